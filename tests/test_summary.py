"""handlers.summary: the start-up summary, one line per fact, and no secret in it."""

from __future__ import annotations

import logging

import pytest

from handlers.settings import Settings
from handlers.summary import Offline, lines, masked

INFO, WARNING = logging.INFO, logging.WARNING
KEY = "sk_live_51SuperSecretKeyValue"
JWT = "jwt-secret-that-must-not-be-printed"
WHSEC = "whsec_never_printed_0123456789"
PASSWORD = "pa55-w0rd"


def test_a_live_deployment_on_postgres() -> None:
    """Live key, PostgreSQL, webhook secret, Supabase keys, origins: every fact, nothing secret."""
    settings = Settings.from_env(
        {
            "STRIPE_SECRET_KEY": KEY,
            "STRIPE_WEBHOOK_SECRET": WHSEC,
            "DATABASE_URL": f"postgresql://billing:{PASSWORD}@db.example.com:5432/app?sslmode=require",
            "SUPABASE_URL": "https://abcd.supabase.co",
            "SUPABASE_JWT_SECRET": JWT,
            "ALLOWED_ORIGINS": "https://app.example.com,https://admin.example.com",
            "ALLOWED_REDIRECT_ORIGINS": "https://app.example.com,https://admin.example.com",
        }
    )

    assert lines(settings) == [
        (INFO, "stripe: live mode"),
        (INFO, "store: postgresql postgresql://billing:***@db.example.com:5432/app"),
        (INFO, "webhook: STRIPE_WEBHOOK_SECRET is set"),
        (
            INFO,
            "sessions: HS256 (SUPABASE_JWT_SECRET) and ES256/RS256 from"
            " https://abcd.supabase.co/auth/v1/.well-known/jwks.json",
        ),
        (INFO, "cors: https://app.example.com, https://admin.example.com"),
        (INFO, "redirects: https://app.example.com, https://admin.example.com"),
    ]
    text = repr(lines(settings))
    assert all(secret not in text for secret in (KEY, JWT, WHSEC, PASSWORD, "sk_live"))


def test_a_test_key_with_nothing_else_warns_of_what_will_fail() -> None:
    """Test key with an API base, no webhook secret, SQLite, no signing keys: warnings name the variables."""
    settings = Settings.from_env(
        {"STRIPE_SECRET_KEY": "rk_test_1", "STRIPE_API_BASE": "http://127.0.0.1:12111"}
    )

    assert lines(settings) == [
        (INFO, "stripe: test mode (restricted key), API base http://127.0.0.1:12111"),
        (
            WARNING,
            "store: sqlite var/profiles.sqlite3, a local file: a container loses it unless it is on a volume"
            " (DATABASE_URL)",
        ),
        (WARNING, "webhook: STRIPE_WEBHOOK_SECRET is not set: every webhook event will be answered 500"),
        (WARNING, "sessions: none verify (SUPABASE_JWT_SECRET is not set): create-portal answers 401"),
        (INFO, "cors: off (ALLOWED_ORIGINS is not set)"),
        (INFO, "redirects: any origin (ALLOWED_REDIRECT_ORIGINS is not set)"),
    ]


def test_offline_mode_says_so_and_where_links_come_from() -> None:
    """Offline: the stand-in warning, its sessions file and how links are built, the local JWT secret."""
    settings = Settings.from_env({"PUBLIC_URL": "https://billing.example.com"})

    found = lines(settings, Offline("var/offline-stripe.sqlite3", "var/local-jwt-secret"))

    assert found[:5] == [
        (
            WARNING,
            "stripe: OFFLINE stand-in (STRIPE_SECRET_KEY is not set): no real payment is made; checkout and"
            " portal links point at this server",
        ),
        (
            INFO,
            "offline: sessions in var/offline-stripe.sqlite3; links from PUBLIC_URL https://billing.example.com",
        ),
        (INFO, "store: sqlite var/profiles.sqlite3"),
        (INFO, "webhook: offline events are signed with a secret made for this process"),
        (
            WARNING,
            "sessions: HS256 with the local secret in var/local-jwt-secret (SUPABASE_JWT_SECRET is not set);"
            " scripts/token EMAIL prints a session",
        ),
    ]


def test_the_edge_names_the_rest_store_and_hs256_only() -> None:
    """At the edge (jwks=False) the JWKS is not named; the REST store is."""
    settings = Settings.from_env(
        {
            "STRIPE_SECRET_KEY": "sk_test_1",
            "DATABASE_URL": "supabase",
            "SUPABASE_URL": "https://abcd.supabase.co",
            "SUPABASE_ANON_KEY": "anon-key-value",
            "SUPABASE_SERVICE_ROLE_KEY": "service-role-key-value",
            "SUPABASE_JWT_SECRET": JWT,
        }
    )

    found = lines(settings, jwks=False)

    assert found[1:4:2] == [
        (INFO, "store: supabase REST https://abcd.supabase.co/rest/v1"),
        (INFO, "sessions: HS256 (SUPABASE_JWT_SECRET)"),
    ]
    assert "service-role-key-value" not in repr(found) and "anon-key-value" not in repr(found)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql://u:***@h:5432/d"),
        ("postgres://u@h/d", "postgres://u@h/d"),
        ("postgresql:///d?host=/run/postgresql", "postgresql:///d"),
        ("postgresql://h/d?password=p&sslmode=require", "postgresql://h/d"),
        ("postgresql://u:p@[::1]:5/d", "postgresql://u:***@[::1]:5/d"),
        ("postgresql://u:p@h1:5432,h2:5432/d", "postgresql://***@h1:5432,h2:5432/d"),
        ("postgresql://u:p@h1:5432,h2:5432/d?password=p?x", "postgresql://***@h1:5432,h2:5432/d"),
        ("http://user:key@127.0.0.1:12111", "http://user:***@127.0.0.1:12111"),
    ],
)
def test_masked_urls_keep_no_password(url: str, shown: str) -> None:
    """Passwords (in the user info or the query) never appear."""
    assert masked(url) == shown


@pytest.mark.parametrize(
    ("environ", "links"),
    [
        pytest.param(
            {"TRUST_PROXY_HEADERS": "on"},
            "X-Forwarded-Proto and X-Forwarded-Host (TRUST_PROXY_HEADERS=on), else the Host header",
            id="trusted-proxy",
        ),
        pytest.param(
            {}, "each request's Host header (PUBLIC_URL or TRUST_PROXY_HEADERS=on behind a proxy)", id="host"
        ),
    ],
)
def test_offline_links_without_public_url(environ: dict[str, str], links: str) -> None:
    """Without PUBLIC_URL the offline line says which headers the links are built from."""
    found = lines(Settings.from_env(environ), Offline("o.sqlite3", "secret"))
    assert found[1] == (INFO, f"offline: sessions in o.sqlite3; links from {links}")


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        pytest.param("sk_abc123", "stripe: mode unknown", id="unknown"),
        pytest.param("sk_live_1", "stripe: live mode", id="live"),
        pytest.param("rk_live_1", "stripe: live mode (restricted key)", id="restricted"),
    ],
)
def test_the_stripe_line_names_the_keys_mode(key: str, shown: str) -> None:
    """test_ or live_ in the key names its mode; any other key says the mode is unknown."""
    assert lines(Settings.from_env({"STRIPE_SECRET_KEY": key}))[0] == (INFO, shown)


def test_a_postgres_url_names_the_store_masked() -> None:
    """postgres:// is PostgreSQL too: the store line names it, its password masked."""
    settings = Settings.from_env({"STRIPE_SECRET_KEY": "sk_test_1", "DATABASE_URL": "postgres://u:pw@db/app"})
    assert lines(settings)[1] == (INFO, "store: postgresql postgres://u:***@db/app")
