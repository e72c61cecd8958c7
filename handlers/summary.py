"""The start-up summary: one line per fact an operator must know, and no secret in any of them."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .settings import Settings

INFO, WARNING = logging.INFO, logging.WARNING
Line = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Offline:
    """What offline mode chose for itself: where its sessions live and where its local JWT secret is."""

    sessions: str
    jwt_secret_file: str


def lines(settings: Settings, offline: Offline | None = None, jwks: bool = True) -> list[Line]:
    """(level, text) per fact; `offline` when the stand-in replaces Stripe, `jwks` False where only HS256
    verifies (the edge)."""
    cors = ", ".join(settings.allowed_origins) or "off (ALLOWED_ORIGINS is not set)"
    redirects = (
        ", ".join(settings.allowed_redirect_origins) or "any origin (ALLOWED_REDIRECT_ORIGINS is not set)"
    )
    return [
        *_stripe(settings, offline),
        _store(settings, offline),
        _webhook(settings, offline),
        _sessions(settings, offline, jwks),
        (INFO, f"cors: {cors}"),
        (INFO, f"redirects: {redirects}"),
    ]


def masked(url: str) -> str:
    """`url` without its password and query (a libpq URL may carry `password=` there)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # several hosts, or a port urllib cannot read: mask by pattern
        return re.sub(r"//[^/@]*@", "//***@", url).partition("?")[0]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username:
        netloc = f"{parts.username}{':***' if parts.password is not None else ''}@{netloc}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def _stripe(settings: Settings, offline: Offline | None) -> list[Line]:
    if offline is not None:
        if settings.public_url:
            links = f"PUBLIC_URL {settings.public_url}"
        elif settings.trust_proxy_headers:
            links = "X-Forwarded-Proto and X-Forwarded-Host (TRUST_PROXY_HEADERS=on), else the Host header"
        else:
            links = "each request's Host header (PUBLIC_URL or TRUST_PROXY_HEADERS=on behind a proxy)"
        return [
            (
                WARNING,
                "stripe: OFFLINE stand-in (STRIPE_SECRET_KEY is not set): no real payment is made;"
                " checkout and portal links point at this server",
            ),
            (INFO, f"offline: sessions in {offline.sessions}; links from {links}"),
        ]
    key = settings.stripe_secret_key or ""
    mode = "test mode" if "_test_" in key else "live mode" if "_live_" in key else "mode unknown"
    kind = " (restricted key)" if key.startswith("rk_") else ""
    base = f", API base {masked(settings.stripe_api_base)}" if settings.stripe_api_base else ""
    return [(INFO, f"stripe: {mode}{kind}{base}")]


def _store(settings: Settings, offline: Offline | None) -> Line:
    url = settings.database_url
    if url == "supabase":
        return INFO, f"store: supabase REST {settings.supabase_url}/rest/v1"
    if url.startswith(("postgresql://", "postgres://")):
        return INFO, f"store: postgresql {masked(url)}"
    path = url.removeprefix("sqlite:///")
    if offline is not None:
        return INFO, f"store: sqlite {path}"
    warning = "a local file: a container loses it unless it is on a volume (DATABASE_URL)"
    return WARNING, f"store: sqlite {path}, {warning}"


def _webhook(settings: Settings, offline: Offline | None) -> Line:
    if settings.stripe_webhook_secret:
        return INFO, "webhook: STRIPE_WEBHOOK_SECRET is set"
    if offline is not None:
        return INFO, "webhook: offline events are signed with a secret made for this process"
    return WARNING, "webhook: STRIPE_WEBHOOK_SECRET is not set: every webhook event will be answered 500"


def _sessions(settings: Settings, offline: Offline | None, jwks: bool) -> Line:
    secret = settings.supabase_jwt_secret
    url = settings.supabase_url if jwks else None
    keys = url and f"{url}/auth/v1/.well-known/jwks.json"
    if secret and keys:
        return INFO, f"sessions: HS256 (SUPABASE_JWT_SECRET) and ES256/RS256 from {keys}"
    if secret:
        return INFO, "sessions: HS256 (SUPABASE_JWT_SECRET)"
    if offline is not None:
        return (
            WARNING,
            f"sessions: HS256 with the local secret in {offline.jwt_secret_file} (SUPABASE_JWT_SECRET is"
            " not set); scripts/token EMAIL prints a session",
        )
    if keys:
        return WARNING, f"sessions: only ES256/RS256 from {keys} (SUPABASE_JWT_SECRET is not set)"
    return WARNING, "sessions: none verify (SUPABASE_JWT_SECRET is not set): create-portal answers 401"
