"""handlers.settings: reading, checking and deriving the service's configuration."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.app import create_app
from handlers.settings import Settings, SettingsError, origin_of

DEFAULTS = Settings(
    stripe_secret_key=None,
    stripe_api_base=None,
    stripe_timeout=10.0,
    stripe_max_retries=2,
    supabase_url=None,
    supabase_jwt_secret=None,
    supabase_auth_cookie=None,
    database_url="sqlite:///var/profiles.sqlite3",
    allowed_redirect_origins=(),
    host="127.0.0.1",
    port=8000,
    max_body_bytes=65536,
    worker_threads=64,
)

VARIABLES = (
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
    "STRIPE_TIMEOUT",
    "STRIPE_MAX_RETRIES",
    "SUPABASE_URL",
    "SUPABASE_JWT_SECRET",
    "SUPABASE_AUTH_COOKIE",
    "DATABASE_URL",
    "ALLOWED_REDIRECT_ORIGINS",
    "HOST",
    "PORT",
    "MAX_BODY_BYTES",
    "WORKER_THREADS",
    "STRIPE_PORTAL_CONFIGURATION",
    "PUBLIC_URL",
    "TRUST_PROXY_HEADERS",
    "CHECK_STORE",
    "LOG_FORMAT",
    "ACCESS_LOG",
)

STRIPE_KEY = "sk_test_51AbCdEfGhIjKlMnOp"
JWT_SECRET = "super-secret-jwt-signing-key-value"


def test_defaults() -> None:
    """An empty environment gives the documented defaults."""
    assert Settings.from_env({}) == DEFAULTS


def test_blank_values_are_defaults() -> None:
    """A variable set to only whitespace counts as unset."""
    assert Settings.from_env(dict.fromkeys(VARIABLES, "  \t ")) == DEFAULTS


def test_unrelated_variables_are_ignored() -> None:
    """Variables the service does not know change nothing."""
    assert Settings.from_env({"PATH": "/usr/bin", "STRIPE_PUBLISHABLE_KEY": "pk_test_1"}) == DEFAULTS


def test_every_variable_is_parsed() -> None:
    """Each variable lands in its field, stripped, converted and normalised."""
    environ = {
        "STRIPE_SECRET_KEY": f" {STRIPE_KEY} ",
        "STRIPE_API_BASE": "http://127.0.0.1:12111",
        "STRIPE_TIMEOUT": "2.5",
        "STRIPE_MAX_RETRIES": "0",
        "SUPABASE_URL": "https://abcd.supabase.co/",
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "SUPABASE_AUTH_COOKIE": "my-session",
        "DATABASE_URL": "sqlite:////srv/billing/profiles.sqlite3",
        "ALLOWED_REDIRECT_ORIGINS": "https://App.Example.com, http://localhost:3000/ ,,http://[::1]:8080",
        "HOST": "0.0.0.0",
        "PORT": " 9000 ",
        "MAX_BODY_BYTES": "2048",
        "WORKER_THREADS": "8",
    }
    assert Settings.from_env(environ) == Settings(
        stripe_secret_key=STRIPE_KEY,
        stripe_api_base="http://127.0.0.1:12111",
        stripe_timeout=2.5,
        stripe_max_retries=0,
        supabase_url="https://abcd.supabase.co",
        supabase_jwt_secret=JWT_SECRET,
        supabase_auth_cookie="my-session",
        database_url="sqlite:////srv/billing/profiles.sqlite3",
        allowed_redirect_origins=("https://app.example.com", "http://localhost:3000", "http://[::1]:8080"),
        host="0.0.0.0",
        port=9000,
        max_body_bytes=2048,
        worker_threads=8,
    )


@pytest.mark.parametrize(
    ("environ", "field", "value"),
    [
        pytest.param(
            {"STRIPE_SECRET_KEY": "rk_live_abc123"}, "stripe_secret_key", "rk_live_abc123", id="rk-key"
        ),
        pytest.param({"PORT": "1"}, "port", 1, id="port-low-edge"),
        pytest.param({"PORT": "65535"}, "port", 65535, id="port-high-edge"),
        pytest.param({"STRIPE_TIMEOUT": "0.1"}, "stripe_timeout", 0.1, id="timeout-low-edge"),
        pytest.param({"STRIPE_TIMEOUT": "600"}, "stripe_timeout", 600.0, id="timeout-high-edge"),
        pytest.param({"STRIPE_MAX_RETRIES": "10"}, "stripe_max_retries", 10, id="retries-high-edge"),
        pytest.param({"STRIPE_RETRY_DELAY": "0"}, "stripe_retry_delay", 0.0, id="retry-delay-zero"),
        pytest.param({}, "stripe_retry_delay", 0.5, id="retry-delay-default"),
        pytest.param({"MAX_BODY_BYTES": "1024"}, "max_body_bytes", 1024, id="body-low-edge"),
        pytest.param({"MAX_BODY_BYTES": "16777216"}, "max_body_bytes", 16777216, id="body-high-edge"),
        pytest.param({"WORKER_THREADS": "1024"}, "worker_threads", 1024, id="threads-high-edge"),
        pytest.param(
            {"DATABASE_URL": "sqlite:///:memory:"}, "database_url", "sqlite:///:memory:", id="memory"
        ),
        pytest.param(
            {"SUPABASE_URL": "http://127.0.0.1:54321"},
            "supabase_url",
            "http://127.0.0.1:54321",
            id="local-supabase",
        ),
        pytest.param(
            {"ALLOWED_REDIRECT_ORIGINS": "HTTPS://APP.EXAMPLE.COM"},
            "allowed_redirect_origins",
            ("https://app.example.com",),
            id="origin-upper-case",
        ),
        pytest.param(
            {"DATABASE_URL": "postgresql://billing:pw@db.example.com:5432/app"},
            "database_url",
            "postgresql://billing:pw@db.example.com:5432/app",
            id="postgresql-url",
        ),
        pytest.param(
            {"DATABASE_URL": "postgres://billing@127.0.0.1/app"},
            "database_url",
            "postgres://billing@127.0.0.1/app",
            id="postgres-url",
        ),
        pytest.param(
            {
                "DATABASE_URL": "supabase",
                "SUPABASE_URL": "https://abcd.supabase.co",
                "SUPABASE_ANON_KEY": "anon",
                "SUPABASE_SERVICE_ROLE_KEY": "service",
            },
            "database_url",
            "supabase",
            id="supabase-store",
        ),
        pytest.param(
            {"ALLOWED_ORIGINS": "https://App.Example.com, http://localhost:3000"},
            "allowed_origins",
            ("https://app.example.com", "http://localhost:3000"),
            id="cors-origins",
        ),
        pytest.param({"SUPABASE_TIMEOUT": "0.5"}, "supabase_timeout", 0.5, id="supabase-timeout"),
        pytest.param(
            {"STRIPE_PORTAL_CONFIGURATION": " bpc_1PqRsTuVwXyZ0123456789Ab "},
            "stripe_portal_configuration",
            "bpc_1PqRsTuVwXyZ0123456789Ab",
            id="portal-configuration",
        ),
        pytest.param({}, "stripe_portal_configuration", None, id="portal-configuration-default"),
        pytest.param(
            {"PUBLIC_URL": "HTTPS://Billing.Example.com:443/"},
            "public_url",
            "https://billing.example.com",
            id="public-url-origin",
        ),
        pytest.param({}, "public_url", None, id="public-url-default"),
        pytest.param({"TRUST_PROXY_HEADERS": "on"}, "trust_proxy_headers", True, id="trust-proxy-on"),
        pytest.param({"TRUST_PROXY_HEADERS": "TRUE"}, "trust_proxy_headers", True, id="trust-proxy-true"),
        pytest.param({}, "trust_proxy_headers", False, id="trust-proxy-default"),
        pytest.param({"CHECK_STORE": "yes"}, "check_store", True, id="check-store-yes"),
        pytest.param({}, "check_store", False, id="check-store-default"),
        pytest.param({"LOG_FORMAT": "JSON"}, "log_format", "json", id="log-json"),
        pytest.param({}, "log_format", "text", id="log-default"),
        pytest.param({"ACCESS_LOG": "off"}, "access_log", False, id="access-off"),
        pytest.param({"ACCESS_LOG": "0"}, "access_log", False, id="access-zero"),
        pytest.param({}, "access_log", True, id="access-default"),
        pytest.param({"CHECK_STORE": "1"}, "check_store", True, id="check-store-one"),
        pytest.param({"ACCESS_LOG": "False"}, "access_log", False, id="access-false"),
        pytest.param({"ACCESS_LOG": "NO"}, "access_log", False, id="access-no"),
        pytest.param(
            {"SUPABASE_JWT_SECRET": " two\nlines "}, "supabase_jwt_secret", "two\nlines", id="secret-newline"
        ),
        pytest.param(
            {"STRIPE_WEBHOOK_SECRET": "whsec_a\nb"}, "stripe_webhook_secret", "whsec_a\nb", id="whsec-newline"
        ),
    ],
)
def test_accepted_values(environ: dict[str, str], field: str, value: object) -> None:
    """Values at the edges of what is allowed are accepted as given."""
    assert getattr(Settings.from_env(environ), field) == value


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({"PORT": "eighty"}, "PORT must be a number, got 'eighty'", id="port-not-number"),
        pytest.param({"PORT": "80.5"}, "PORT must be a number, got '80.5'", id="port-not-integer"),
        pytest.param({"PORT": "0"}, "PORT must be between 1 and 65535, got '0'", id="port-zero"),
        pytest.param({"PORT": "65536"}, "PORT must be between 1 and 65535, got '65536'", id="port-too-big"),
        pytest.param({"PORT": "-80"}, "PORT must be between 1 and 65535, got '-80'", id="port-negative"),
        pytest.param(
            {"STRIPE_TIMEOUT": "soon"}, "STRIPE_TIMEOUT must be a number, got 'soon'", id="timeout-not-number"
        ),
        pytest.param(
            {"STRIPE_TIMEOUT": "0"}, "STRIPE_TIMEOUT must be between 0.1 and 600, got '0'", id="timeout-zero"
        ),
        pytest.param(
            {"STRIPE_TIMEOUT": "nan"},
            "STRIPE_TIMEOUT must be between 0.1 and 600, got 'nan'",
            id="timeout-nan",
        ),
        pytest.param(
            {"STRIPE_TIMEOUT": "inf"},
            "STRIPE_TIMEOUT must be between 0.1 and 600, got 'inf'",
            id="timeout-inf",
        ),
        pytest.param(
            {"STRIPE_MAX_RETRIES": "11"},
            "STRIPE_MAX_RETRIES must be between 0 and 10, got '11'",
            id="retries-too-many",
        ),
        pytest.param(
            {"STRIPE_RETRY_DELAY": "-1"},
            "STRIPE_RETRY_DELAY must be between 0 and 60, got '-1'",
            id="retry-delay-negative",
        ),
        pytest.param(
            {"MAX_BODY_BYTES": "1023"},
            "MAX_BODY_BYTES must be between 1024 and 16777216, got '1023'",
            id="body-too-small",
        ),
        pytest.param(
            {"WORKER_THREADS": "0"}, "WORKER_THREADS must be between 1 and 1024, got '0'", id="threads-zero"
        ),
        pytest.param(
            {"STRIPE_SECRET_KEY": "pk_test_51AbCdEf"},
            "STRIPE_SECRET_KEY must be a Stripe secret key (sk_... or rk_...)",
            id="publishable-key",
        ),
        pytest.param(
            {"STRIPE_SECRET_KEY": "whsec_51AbCdEf"},
            "STRIPE_SECRET_KEY must be a Stripe secret key (sk_... or rk_...)",
            id="webhook-secret",
        ),
        pytest.param(
            {"STRIPE_SECRET_KEY": "sk_"},
            "STRIPE_SECRET_KEY must be a Stripe secret key (sk_... or rk_...)",
            id="key-prefix-only",
        ),
        pytest.param(
            {"STRIPE_SECRET_KEY": "sk_test 51AbCdEf"},
            "STRIPE_SECRET_KEY must be a Stripe secret key (sk_... or rk_...)",
            id="key-with-space",
        ),
        pytest.param(
            {"STRIPE_API_BASE": "ftp://127.0.0.1:12111"},
            "STRIPE_API_BASE must be an http(s) URL, got 'ftp://127.0.0.1:12111'",
            id="api-base-ftp",
        ),
        pytest.param(
            {"STRIPE_API_BASE": "localhost:12111"},
            "STRIPE_API_BASE must be an http(s) URL, got 'localhost:12111'",
            id="api-base-no-scheme",
        ),
        pytest.param(
            {"SUPABASE_URL": "abcd.supabase.co"},
            "SUPABASE_URL must be an http(s) URL, got 'abcd.supabase.co'",
            id="supabase-no-scheme",
        ),
        pytest.param(
            {"SUPABASE_URL": "https://"},
            "SUPABASE_URL must be an http(s) URL, got 'https://'",
            id="supabase-no-host",
        ),
        pytest.param(
            {"SUPABASE_URL": "postgres://db.abcd.supabase.co"},
            "SUPABASE_URL must be an http(s) URL, got 'postgres://db.abcd.supabase.co'",
            id="supabase-postgres",
        ),
        pytest.param(
            {"DATABASE_URL": "mysql://user:hunter2@db.example.com/app"},
            "DATABASE_URL must look like sqlite:///path/to/file, postgresql://user:password@host/db"
            " or supabase, got 'mysql://***@db.example.com/app'",
            id="database-mysql-password-hidden",
        ),
        pytest.param(
            {"DATABASE_URL": "postgresql:///app"},
            "DATABASE_URL must look like sqlite:///path/to/file, postgresql://user:password@host/db"
            " or supabase, got 'postgresql:///app'",
            id="database-postgres-no-host",
        ),
        pytest.param(
            {"DATABASE_URL": "sqlite:///"},
            "DATABASE_URL must look like sqlite:///path/to/file, postgresql://user:password@host/db"
            " or supabase, got 'sqlite:///'",
            id="database-no-path",
        ),
        pytest.param(
            {"DATABASE_URL": "sqlite://profiles.sqlite3"},
            "DATABASE_URL must look like sqlite:///path/to/file, postgresql://user:password@host/db"
            " or supabase, got 'sqlite://profiles.sqlite3'",
            id="database-two-slashes",
        ),
        pytest.param(
            {
                "DATABASE_URL": "supabase",
                "SUPABASE_URL": "https://abcd.supabase.co",
                "SUPABASE_ANON_KEY": "a",
            },
            "DATABASE_URL=supabase needs SUPABASE_SERVICE_ROLE_KEY",
            id="supabase-store-no-service-key",
        ),
        pytest.param(
            {"DATABASE_URL": "supabase", "SUPABASE_ANON_KEY": "a", "SUPABASE_SERVICE_ROLE_KEY": "s"},
            "DATABASE_URL=supabase needs SUPABASE_URL",
            id="supabase-store-no-url",
        ),
        pytest.param(
            {"DATABASE_URL": "supabase", "SUPABASE_URL": "https://abcd.supabase.co"},
            "DATABASE_URL=supabase needs SUPABASE_ANON_KEY",
            id="supabase-store-no-anon-key",
        ),
        pytest.param(
            {"ALLOWED_ORIGINS": "https://app.example.com/app"},
            "ALLOWED_ORIGINS must list origins like https://app.example.com, got 'https://app.example.com/app'",
            id="cors-origin-with-slash-path",
        ),
        pytest.param(
            {"SUPABASE_TIMEOUT": "0"},
            "SUPABASE_TIMEOUT must be between 0.1 and 60, got '0'",
            id="supabase-timeout",
        ),
        pytest.param(
            {"ALLOWED_REDIRECT_ORIGINS": "https://app.example.com/account"},
            "ALLOWED_REDIRECT_ORIGINS must list origins like https://app.example.com,"
            " got 'https://app.example.com/account'",
            id="origin-with-path",
        ),
        pytest.param(
            {"ALLOWED_REDIRECT_ORIGINS": "https://app.example.com?next=1"},
            "ALLOWED_REDIRECT_ORIGINS must list origins like https://app.example.com,"
            " got 'https://app.example.com?next=1'",
            id="origin-with-query",
        ),
        pytest.param(
            {"ALLOWED_REDIRECT_ORIGINS": "https://user@app.example.com"},
            "ALLOWED_REDIRECT_ORIGINS must list origins like https://app.example.com,"
            " got 'https://user@app.example.com'",
            id="origin-with-user",
        ),
        pytest.param(
            {"ALLOWED_REDIRECT_ORIGINS": "ftp://files.example.com"},
            "ALLOWED_REDIRECT_ORIGINS must list origins like https://app.example.com,"
            " got 'ftp://files.example.com'",
            id="origin-ftp",
        ),
        pytest.param(
            {"ALLOWED_REDIRECT_ORIGINS": "app.example.com"},
            "ALLOWED_REDIRECT_ORIGINS must list origins like https://app.example.com, got 'app.example.com'",
            id="origin-no-scheme",
        ),
        pytest.param(
            {"ALLOWED_REDIRECT_ORIGINS": "https://app.example.com:99999"},
            "ALLOWED_REDIRECT_ORIGINS must list origins like https://app.example.com,"
            " got 'https://app.example.com:99999'",
            id="origin-bad-port",
        ),
        pytest.param(
            {"STRIPE_PORTAL_CONFIGURATION": "pc_123"},
            "STRIPE_PORTAL_CONFIGURATION must be a customer portal configuration id (bpc_...), got 'pc_123'",
            id="portal-configuration-prefix",
        ),
        pytest.param(
            {"STRIPE_PORTAL_CONFIGURATION": "bpc_12 3"},
            "STRIPE_PORTAL_CONFIGURATION must be a customer portal configuration id (bpc_...),"
            " got 'bpc_12 3'",
            id="portal-configuration-space",
        ),
        pytest.param(
            {"STRIPE_PORTAL_CONFIGURATION": "bpc_"},
            "STRIPE_PORTAL_CONFIGURATION must be a customer portal configuration id (bpc_...), got 'bpc_'",
            id="portal-configuration-empty-id",
        ),
        pytest.param(
            {"ALLOWED_REDIRECT_ORIGINS": "https://ok.example.com, javascript:alert(1)"},
            "ALLOWED_REDIRECT_ORIGINS must list origins like https://app.example.com,"
            " got 'javascript:alert(1)'",
            id="second-origin-bad",
        ),
        pytest.param(
            {"PUBLIC_URL": "https://billing.example.com/app"},
            "PUBLIC_URL must be an origin like https://billing.example.com, got 'https://billing.example.com/app'",
            id="public-url-path",
        ),
        pytest.param(
            {"PUBLIC_URL": "billing.example.com"},
            "PUBLIC_URL must be an origin like https://billing.example.com, got 'billing.example.com'",
            id="public-url-no-scheme",
        ),
        pytest.param(
            {"TRUST_PROXY_HEADERS": "maybe"},
            "TRUST_PROXY_HEADERS must be on or off, got 'maybe'",
            id="switch",
        ),
        pytest.param({"CHECK_STORE": "2"}, "CHECK_STORE must be on or off, got '2'", id="check-store-bad"),
        pytest.param(
            {"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of text, json, got 'xml'", id="log-format-bad"
        ),
        pytest.param(
            {"ACCESS_LOG": "verbose"}, "ACCESS_LOG must be on or off, got 'verbose'", id="access-bad"
        ),
    ],
)
def test_bad_value_names_the_variable(environ: dict[str, str], message: str) -> None:
    """A bad value raises SettingsError whose message names the variable and what it must be."""
    with pytest.raises(SettingsError) as info:
        Settings.from_env(environ)
    assert str(info.value) == message


def test_secrets_are_not_in_repr() -> None:
    """Neither the Stripe key nor the JWT secret appears in the settings' repr."""
    settings = Settings.from_env(
        {"STRIPE_SECRET_KEY": STRIPE_KEY, "SUPABASE_JWT_SECRET": JWT_SECRET, "SUPABASE_URL": "https://a.b.co"}
    )
    assert (settings.stripe_secret_key, settings.supabase_jwt_secret) == (STRIPE_KEY, JWT_SECRET)
    text = repr(settings)
    assert STRIPE_KEY not in text
    assert JWT_SECRET not in text
    assert text.startswith("Settings(stripe_api_base=None, stripe_timeout=10.0, ")
    assert "supabase_url='https://a.b.co', supabase_auth_cookie=None, allowed_redirect_origins=" in text


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        pytest.param(Settings(), None, id="nothing-set"),
        pytest.param(Settings(supabase_url="https://abcd.supabase.co"), "sb-abcd-auth-token", id="hosted"),
        pytest.param(Settings(supabase_url="http://127.0.0.1:54321"), "sb-127-auth-token", id="local-ip"),
        pytest.param(
            Settings(supabase_url="http://localhost:54321"), "sb-localhost-auth-token", id="localhost"
        ),
        pytest.param(
            Settings(supabase_url="https://ABCD.supabase.co"), "sb-abcd-auth-token", id="upper-case-host"
        ),
        pytest.param(Settings(supabase_auth_cookie="my-session"), "my-session", id="custom-only"),
        pytest.param(
            Settings(supabase_url="https://abcd.supabase.co", supabase_auth_cookie="my-session"),
            "my-session",
            id="custom-wins",
        ),
    ],
)
def test_auth_cookie_name(settings: Settings, name: str | None) -> None:
    """The cookie name is the custom one, else derived from the Supabase host, else None for any."""
    assert settings.auth_cookie_name == name


@pytest.mark.parametrize(
    ("environ", "issuer"),
    [
        pytest.param({}, None, id="unset"),
        pytest.param(
            {"SUPABASE_URL": "https://abcd.supabase.co"}, "https://abcd.supabase.co/auth/v1", id="hosted"
        ),
        pytest.param(
            {"SUPABASE_URL": "https://abcd.supabase.co///"},
            "https://abcd.supabase.co/auth/v1",
            id="trailing-slash",
        ),
        pytest.param(
            {"SUPABASE_URL": "https://gateway.example.com/projectX/"},
            "https://gateway.example.com/projectX/auth/v1",
            id="only-slashes-are-trimmed",
        ),
        pytest.param(
            {"SUPABASE_URL": "http://127.0.0.1:54321"}, "http://127.0.0.1:54321/auth/v1", id="local"
        ),
    ],
)
def test_token_issuer(environ: dict[str, str], issuer: str | None) -> None:
    """The expected `iss` claim is SUPABASE_URL without trailing slashes, plus /auth/v1."""
    assert Settings.from_env(environ).token_issuer == issuer


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        pytest.param("https://app.example.com", "https://app.example.com", id="plain"),
        pytest.param("https://app.example.com/account?x=1#top", "https://app.example.com", id="path-dropped"),
        pytest.param("https://app.example.com:443/", "https://app.example.com", id="https-default-port"),
        pytest.param("http://app.example.com:80/", "http://app.example.com", id="http-default-port"),
        pytest.param("https://app.example.com:80", "https://app.example.com:80", id="https-on-port-80"),
        pytest.param("http://localhost:3000/x", "http://localhost:3000", id="other-port-kept"),
        pytest.param("HTTPS://App.Example.COM/Path", "https://app.example.com", id="case-lowered"),
        pytest.param("https://user:pw@app.example.com", "https://app.example.com", id="userinfo-dropped"),
        pytest.param("http://[::1]:8080/x", "http://[::1]:8080", id="ipv6-with-port"),
        pytest.param("http://[::1]:80", "http://[::1]", id="ipv6-default-port"),
        pytest.param("https://[2001:DB8::1]/", "https://[2001:db8::1]", id="ipv6-case-lowered"),
        pytest.param("ftp://files.example.com", None, id="ftp"),
        pytest.param("javascript:alert(1)", None, id="javascript"),
        pytest.param("app.example.com", None, id="no-scheme"),
        pytest.param("/account", None, id="relative"),
        pytest.param("https://", None, id="no-host"),
        pytest.param("https://app.example.com:99999", None, id="port-out-of-range"),
        pytest.param("https://app.example.com:https", None, id="port-not-number"),
        pytest.param("http://[::1", None, id="broken-ipv6"),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    """origin_of lower-cases, drops default ports and keeps IPv6 brackets; non-http(s) URLs are None."""
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"PORT": "eighty"}, "configuration error: PORT must be a number, got 'eighty'", id="port"
        ),
        pytest.param(
            {"STRIPE_SECRET_KEY": "pk_live_123"},
            "configuration error: STRIPE_SECRET_KEY must be a Stripe secret key (sk_... or rk_...)",
            id="stripe-key",
        ),
        pytest.param(
            {"DATABASE_URL": "mysql://db/app"},
            "configuration error: DATABASE_URL must look like sqlite:///path/to/file,"
            " postgresql://user:password@host/db or supabase, got 'mysql://db/app'",
            id="database",
        ),
        pytest.param(
            {"STRIPE_PORTAL_CONFIGURATION": "https://dashboard.stripe.com/settings/billing/portal"},
            "configuration error: STRIPE_PORTAL_CONFIGURATION must be a customer portal configuration id"
            " (bpc_...), got 'https://dashboard.stripe.com/settings/billing/portal'",
            id="portal-configuration",
        ),
    ],
)
def test_create_app_exits_naming_the_bad_variable(environ: dict[str, str], message: str) -> None:
    """create_app stops start-up with SystemExit whose message names the bad variable."""
    with pytest.raises(SystemExit) as info:
        create_app(environ)
    assert info.value.code == message
    assert info.value.__cause__ is None


WEBHOOK_SECRET = "whsec_0123456789abcdefABCDEF"


def test_webhook_secret_is_read_stripped_and_kept_out_of_repr() -> None:
    """STRIPE_WEBHOOK_SECRET lands in its field, stripped, and never in the repr."""
    settings = Settings.from_env({"STRIPE_WEBHOOK_SECRET": f" {WEBHOOK_SECRET}\n"})

    assert settings == replace(DEFAULTS, stripe_webhook_secret=WEBHOOK_SECRET)
    assert WEBHOOK_SECRET not in repr(settings)
    assert Settings.from_env({"STRIPE_WEBHOOK_SECRET": " "}).stripe_webhook_secret is None


def test_a_webhook_secret_of_another_kind_is_refused_without_echoing_it() -> None:
    """A value that is not whsec_... stops start-up; the message names the variable, not the value."""
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"STRIPE_WEBHOOK_SECRET": STRIPE_KEY})

    assert str(info.value) == "STRIPE_WEBHOOK_SECRET must be a webhook signing secret (whsec_...)"


def test_supabase_keys_and_database_password_are_not_in_repr() -> None:
    """The Supabase API keys and a password in DATABASE_URL stay out of the settings' repr."""
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://billing:db-pass-123@db.example.com/app",
            "SUPABASE_URL": "https://abcd.supabase.co",
            "SUPABASE_ANON_KEY": "anon-key-456",
            "SUPABASE_SERVICE_ROLE_KEY": "service-key-789",
        }
    )
    text = repr(settings)
    assert "db-pass-123" not in text and "anon-key-456" not in text and "service-key-789" not in text
