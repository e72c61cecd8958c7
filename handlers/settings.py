"""Configuration, read once from the environment into one frozen object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """A setting has a value the service cannot start with; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service reads from its environment."""

    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_api_base: str | None = None
    stripe_timeout: float = 10.0
    stripe_max_retries: int = 2
    supabase_url: str | None = None
    supabase_jwt_secret: str | None = field(default=None, repr=False)
    supabase_auth_cookie: str | None = None
    database_url: str = field(default="sqlite:///var/profiles.sqlite3", repr=False)
    allowed_redirect_origins: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 64 * 1024
    worker_threads: int = 64
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_retry_delay: float = 0.5
    supabase_anon_key: str | None = field(default=None, repr=False)
    supabase_service_role_key: str | None = field(default=None, repr=False)
    supabase_timeout: float = 5.0
    allowed_origins: tuple[str, ...] = ()
    stripe_portal_configuration: str | None = None
    public_url: str | None = None
    trust_proxy_headers: bool = False
    check_store: bool = False
    log_format: str = "text"
    access_log: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and check every setting; raise SettingsError naming the first bad variable."""

        def text(name: str, pattern: str = ".*", shape: str = "") -> str | None:
            value = environ.get(name, "").strip()
            if value and not re.fullmatch(pattern, value, re.DOTALL):
                raise SettingsError(f"{name} must {shape.format(value=value)}")
            return value or None

        key = text("STRIPE_SECRET_KEY", r"(sk|rk)_[A-Za-z0-9_]+", "be a Stripe secret key (sk_... or rk_...)")
        supabase_url = _http_url(environ, "SUPABASE_URL")
        default = cls()  # the defaults are the fields' own
        return cls(
            stripe_secret_key=key,
            stripe_api_base=_http_url(environ, "STRIPE_API_BASE"),
            stripe_timeout=_number(environ, "STRIPE_TIMEOUT", default.stripe_timeout, 0.1, 600),
            stripe_max_retries=_number(environ, "STRIPE_MAX_RETRIES", default.stripe_max_retries, 0, 10),
            supabase_url=supabase_url.rstrip("/") if supabase_url else None,
            supabase_jwt_secret=text("SUPABASE_JWT_SECRET"),
            supabase_auth_cookie=text("SUPABASE_AUTH_COOKIE"),
            database_url=_database_url(environ, default.database_url),
            allowed_redirect_origins=_origins(environ, "ALLOWED_REDIRECT_ORIGINS"),
            host=text("HOST") or default.host,
            port=_number(environ, "PORT", default.port, 1, 65535),
            max_body_bytes=_number(environ, "MAX_BODY_BYTES", default.max_body_bytes, 1024, 16 * 2**20),
            worker_threads=_number(environ, "WORKER_THREADS", default.worker_threads, 1, 1024),
            # A secret: the message names the variable, never echoes the value.
            stripe_webhook_secret=text(
                "STRIPE_WEBHOOK_SECRET", r"whsec_.*", "be a webhook signing secret (whsec_...)"
            ),
            stripe_retry_delay=_number(environ, "STRIPE_RETRY_DELAY", default.stripe_retry_delay, 0, 60),
            supabase_anon_key=text("SUPABASE_ANON_KEY"),
            supabase_service_role_key=text("SUPABASE_SERVICE_ROLE_KEY"),
            supabase_timeout=_number(environ, "SUPABASE_TIMEOUT", default.supabase_timeout, 0.1, 60),
            allowed_origins=_origins(environ, "ALLOWED_ORIGINS"),
            stripe_portal_configuration=text(
                "STRIPE_PORTAL_CONFIGURATION",
                r"bpc_[A-Za-z0-9_]+",
                "be a customer portal configuration id (bpc_...), got {value!r}",
            ),
            public_url=_origin(
                "PUBLIC_URL", text("PUBLIC_URL") or "", "be an origin like https://billing.example.com"
            ),
            trust_proxy_headers=_switch(environ, "TRUST_PROXY_HEADERS", default.trust_proxy_headers),
            check_store=_switch(environ, "CHECK_STORE", default.check_store),
            log_format=_choice(environ, "LOG_FORMAT", ("text", "json")),
            access_log=_switch(environ, "ACCESS_LOG", default.access_log),
        )

    @property
    def auth_cookie_name(self) -> str | None:
        """The Supabase session cookie's name: set, derived from SUPABASE_URL, or None for any."""
        if self.supabase_auth_cookie:
            return self.supabase_auth_cookie
        if self.supabase_url:
            host = urlsplit(self.supabase_url).hostname or ""
            return f"sb-{host.split('.')[0]}-auth-token"
        return None

    @property
    def token_issuer(self) -> str | None:
        """The `iss` claim Supabase puts in access tokens, when the project URL is known."""
        return f"{self.supabase_url}/auth/v1" if self.supabase_url else None


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "yes", "1"):
        return True
    if raw in ("off", "false", "no", "0"):
        return False
    raise SettingsError(f"{name} must be on or off, got {raw!r}")


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = environ.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _http_url(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def _number(environ: Mapping[str, str], name: str, default: N, low: N, high: N) -> N:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = type(default)(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def _database_url(environ: Mapping[str, str], default: str) -> str:
    value = environ.get("DATABASE_URL", "").strip() or default
    if value == "supabase":
        for name in ("SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY"):
            if not environ.get(name, "").strip():
                raise SettingsError(f"DATABASE_URL=supabase needs {name}")
        return value
    if value.startswith(("postgresql://", "postgres://")) and urlsplit(value).hostname:
        return value
    if not value.startswith("sqlite:///") or value == "sqlite:///":
        shown = re.sub(r"//[^/@]*@", "//***@", value)  # never echo a password
        raise SettingsError(
            "DATABASE_URL must look like sqlite:///path/to/file, postgresql://user:password@host/db"
            f" or supabase, got {shown!r}"
        )
    return value


def _origins(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    shape = "list origins like https://app.example.com"
    found = (_origin(name, item.strip(), shape) for item in environ.get(name, "").split(","))
    return tuple(origin for origin in found if origin)


def _origin(name: str, value: str, shape: str) -> str | None:
    """The origin `value` is (None when empty), if it is one: no path, query, fragment or user."""
    if not value:
        return None
    origin = origin_of(value)
    if origin is None or urlsplit(value).path not in ("", "/") or any(c in value for c in "?#@"):
        raise SettingsError(f"{name} must {shape}, got {value!r}")
    return origin


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, lower-case and without a default port; else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{host}{suffix}"
