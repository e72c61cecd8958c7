"""handlers.app: what the composition roots build from the settings, for the ASGI host and for the edge."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses

from handlers.adapters.jwks_keys import JWKSKeys, KeyChain
from handlers.adapters.postgres_profiles import PostgresProfiles
from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.adapters.stripe_payments import StripePayments
from handlers.adapters.supabase_profiles import SupabaseProfiles
from handlers.app import build_router, create_app, create_edge
from handlers.contract import Contract
from handlers.http import Request
from handlers.offline.payments import OfflinePayments
from handlers.ports import PaymentsError, PortalNotConfigured, Profile
from handlers.router import Router
from handlers.session import HS256Keys, NoKeys, NotSignedIn
from handlers.settings import Settings
from tests.helpers.asgi_client import call
from tests.helpers.fake_fetch import FakeFetch
from tests.helpers.fakes import (
    SECRET,
    SUPABASE_URL,
    USER_ID,
    FakePayments,
    FakeProfiles,
    cookie_header,
    make_token,
)
from tests.helpers.jwks import es256, jwks
from tests.helpers.stripe_events import WEBHOOK_SECRET, event, invoice, signature

EDGE = {
    "STRIPE_SECRET_KEY": "sk_test_edge0123456789",
    "DATABASE_URL": "supabase",
    "SUPABASE_URL": "https://abcd.supabase.co",
    "SUPABASE_ANON_KEY": "anon",
    "SUPABASE_SERVICE_ROLE_KEY": "service",
    "SUPABASE_JWT_SECRET": "edge-secret-that-is-long-enough-for-hs256",
}
CHECKOUT_BODY = {
    "priceId": "price_1",
    "successUrl": "https://app.example.com/ok",
    "cancelUrl": "https://app.example.com/no",
    "mode": "payment",
}


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        pytest.param(
            {"DATABASE_URL": "postgresql://billing:pw@127.0.0.1:1/app"}, PostgresProfiles, id="postgresql"
        ),
        pytest.param({"DATABASE_URL": "postgres://billing@127.0.0.1:1/app"}, PostgresProfiles, id="postgres"),
        pytest.param(
            {
                "DATABASE_URL": "supabase",
                "SUPABASE_URL": "https://abcd.supabase.co",
                "SUPABASE_ANON_KEY": "anon",
                "SUPABASE_SERVICE_ROLE_KEY": "service",
            },
            SupabaseProfiles,
            id="supabase",
        ),
    ],
)
def test_database_url_selects_the_store_without_io(environ: dict[str, str], kind: type) -> None:
    """postgresql:// and supabase build their stores without connecting (port 1 is closed)."""
    router = build_router(Settings.from_env(environ))
    assert isinstance(router.deps.profiles, kind)


def test_sqlite_stays_the_default(tmp_path: Path) -> None:
    """A sqlite:/// URL builds and creates the SQLite store, as before."""
    router = build_router(Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3"}))
    assert isinstance(router.deps.profiles, SQLiteProfiles)
    assert (tmp_path / "p.sqlite3").exists()


def test_supabase_url_adds_the_jwks_beside_the_secret() -> None:
    """With SUPABASE_URL and a secret, HS256 and JWKS keys are both used."""
    router = build_router(
        Settings.from_env({"SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_JWT_SECRET": "s"})
    )
    keys = router.deps.sessions._keys
    assert isinstance(keys, KeyChain)
    assert isinstance(keys._hs256, HS256Keys)
    assert isinstance(keys._jwks, JWKSKeys)
    assert keys._jwks.url == "https://abcd.supabase.co/auth/v1/.well-known/jwks.json"


def test_supabase_store_without_its_keys_stops_start_up() -> None:
    """DATABASE_URL=supabase without the service key stops start-up naming the variable."""
    with pytest.raises(SystemExit) as info:
        create_app(
            {"DATABASE_URL": "supabase", "SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_ANON_KEY": "a"}
        )
    assert info.value.code == "configuration error: DATABASE_URL=supabase needs SUPABASE_SERVICE_ROLE_KEY"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://postgres:Xy7%zz-secret@127.0.0.1:1/postgres", id="bad-percent-escape"),
        pytest.param("postgresql://postgres:s3cr3t/x@db.example.com/app", id="unencoded-slash"),
    ],
)
def test_unreadable_postgres_url_stops_start_up_without_echoing_it(url: str) -> None:
    """A DATABASE_URL libpq cannot read stops start-up with a message that quotes none of it."""
    with pytest.raises(SystemExit) as stopped:
        create_app({"DATABASE_URL": url})
    message = str(stopped.value)
    assert message.startswith("configuration error: DATABASE_URL is not a PostgreSQL URL libpq can read")
    assert "secret" not in message and "s3cr3t" not in message


def test_create_edge_builds_fetch_payments_supabase_profiles_and_hs256_keys() -> None:
    """The edge's root: Stripe through fetch, profiles through Supabase REST, HS256 sessions only."""
    fetch = FakeFetch()
    deps = create_edge(EDGE, fetch).router.deps
    assert isinstance(deps.payments, StripePayments) and deps.payments._fetch is fetch
    assert isinstance(deps.profiles, SupabaseProfiles)
    assert isinstance(deps.sessions._keys, HS256Keys)


def test_create_edge_answers_through_fetch() -> None:
    """A checkout through create_edge's Edge reaches Stripe through the given fetch and answers its URL."""
    fetch = FakeFetch(
        (200, {"id": "cs_1", "object": "checkout.session", "url": "https://checkout.stripe.com/e"})
    )
    edge = create_edge(EDGE, fetch, profiles=FakeProfiles())
    status, _, body = edge.handle(
        "POST",
        "https://billing.example.com/api/stripe/create-checkout",
        {},
        json.dumps(CHECKOUT_BODY).encode(),
    )
    assert (status, json.loads(body)) == (200, {"url": "https://checkout.stripe.com/e"})
    assert [sent.url for sent in fetch.sent] == ["https://api.stripe.com/v1/checkout/sessions"]


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        pytest.param(
            "STRIPE_SECRET_KEY",
            "configuration error: STRIPE_SECRET_KEY is not set, and the edge has no offline stand-in",
            id="no-stripe-key",
        ),
        pytest.param(
            "DATABASE_URL",
            "configuration error: DATABASE_URL must be supabase at the edge (no TCP, no files there)",
            id="not-supabase",
        ),
    ],
)
def test_create_edge_refuses_what_the_edge_cannot_run(drop: str, message: str) -> None:
    """Without a Stripe key or with a store the edge cannot reach, start-up stops naming the variable."""
    environ = {name: value for name, value in EDGE.items() if name != drop}
    with pytest.raises(SystemExit) as stopped:
        create_edge(environ, FakeFetch())
    assert stopped.value.code == message


def test_create_edge_without_a_jwt_secret_verifies_no_session() -> None:
    """At the edge only HS256 verifies: without the secret no session does."""
    environ = {name: value for name, value in EDGE.items() if name != "SUPABASE_JWT_SECRET"}
    assert isinstance(create_edge(environ, FakeFetch()).router.deps.sessions._keys, NoKeys)


def test_offline_mode_routes_the_stand_ins_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a Stripe key the stand-in is the payments and its pages are routed; with one they are not."""
    monkeypatch.chdir(tmp_path)  # offline mode keeps its local JWT secret under ./var
    database = f"sqlite:///{tmp_path}/p.sqlite3"
    offline = build_router(Settings.from_env({"DATABASE_URL": database}))
    assert isinstance(offline.deps.payments, OfflinePayments)
    url = offline.deps.payments.create_portal_session("cus_1", "https://app.example.com/account")
    page = Request("GET", url.removeprefix("http://localhost"))  # no request named a host
    assert offline.dispatch(page).status == 200
    assert (tmp_path / "var" / "local-jwt-secret").exists()
    assert (tmp_path / "offline-stripe.sqlite3").exists()  # beside the profile store, for every worker

    real = build_router(Settings.from_env({"DATABASE_URL": database, "STRIPE_SECRET_KEY": "sk_test_1"}))
    assert isinstance(real.deps.payments, StripePayments)
    assert real.dispatch(page).status == 404


def test_create_app_logs_the_summary_and_an_access_line_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """create_app prints one line per start-up fact, then one access line per request; no secret."""
    key, secret = "sk_live_app0123456789", "app-jwt-secret-that-is-long-enough-for-hs256"
    app = create_app(
        {
            "STRIPE_SECRET_KEY": key,
            "SUPABASE_JWT_SECRET": secret,
            "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
        }
    )
    asyncio.run(call(app, "POST", "/api/stripe/create-checkout", b"{}", {"X-Request-Id": "app-1"}))
    app.executor.shutdown()

    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 3)[2:] for line in lines[:2]] == [
        ["INFO", "handlers [-] stripe: live mode"],
        [
            "WARNING",
            f"handlers [-] store: sqlite {tmp_path}/p.db, a local file: a container loses it unless it"
            " is on a volume (DATABASE_URL)",
        ],
    ]
    assert re.fullmatch(
        r".* INFO handlers\.access \[app-1\] POST /api/stripe/create-checkout 400 \d+\.\dms", lines[-1]
    )
    assert not any(key in line or secret in line for line in lines)


def test_access_log_off_logs_no_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ACCESS_LOG=off: the summary still prints; no access line does."""
    app = create_app(
        {"STRIPE_SECRET_KEY": "sk_test_1", "ACCESS_LOG": "off", "DATABASE_URL": f"sqlite:///{tmp_path}/p"}
    )
    asyncio.run(call(app, "GET", "/healthz"))
    app.executor.shutdown()

    err = capsys.readouterr().err
    assert "stripe: test mode" in err and "handlers.access" not in err


def test_check_store_refuses_a_store_that_does_not_answer(capsys: pytest.CaptureFixture[str]) -> None:
    """CHECK_STORE=on pings the store at build: down, start-up stops with one line; up, it says so."""
    down = FakeProfiles()
    down.down = True
    environ = {"STRIPE_SECRET_KEY": "sk_test_1", "CHECK_STORE": "on"}

    with pytest.raises(SystemExit) as stopped:
        create_app(environ, profiles=down)
    create_app(environ, profiles=FakeProfiles()).executor.shutdown()

    assert str(stopped.value.code).startswith(
        "configuration error: CHECK_STORE=on and the profile store does not answer: "
    )
    assert (
        " INFO handlers [-] store: answered the start-up check (CHECK_STORE=on)\n" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("environ", "headers", "origin"),
    [
        pytest.param({}, {"Host": "127.0.0.1:8020"}, "http://127.0.0.1:8020", id="host-header"),
        pytest.param(
            {"HOST": "0.0.0.0", "PORT": "9999"},
            {"Host": "billing.test"},
            "http://billing.test",
            id="not-host-port",
        ),
        pytest.param(
            {},
            {"Host": "10.0.0.5:8000", "X-Forwarded-Host": "pay.example.com", "X-Forwarded-Proto": "https"},
            "http://10.0.0.5:8000",
            id="untrusted-forwarded",
        ),
        pytest.param(
            {"TRUST_PROXY_HEADERS": "on"},
            {"Host": "10.0.0.5:8000", "X-Forwarded-Host": "pay.example.com", "X-Forwarded-Proto": "https"},
            "https://pay.example.com",
            id="trusted-forwarded",
        ),
        pytest.param(
            {"PUBLIC_URL": "https://billing.example.com"},
            {"Host": "10.0.0.5:8000"},
            "https://billing.example.com",
            id="public-url",
        ),
    ],
)
def test_offline_links_follow_the_request(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    headers: dict[str, str],
    origin: str,
) -> None:
    """Offline checkout and portal links are built on where the request arrived, never on HOST/PORT."""
    monkeypatch.chdir(tmp_path)
    token = make_token(SECRET, iss=None, sub="user-links")
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3", "SUPABASE_JWT_SECRET": SECRET, **environ}
    app = create_app(settings)
    store = app.router.deps.profiles
    assert isinstance(store, SQLiteProfiles)
    store.put(Profile("user-links", "l@example.com", "cus_links"))
    signed_in = {**headers, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    checkout = asyncio.run(
        call(app, "POST", "/api/stripe/create-checkout", json.dumps(CHECKOUT_BODY).encode(), signed_in)
    )
    portal = asyncio.run(
        call(
            app, "POST", "/api/stripe/create-portal", b'{"returnUrl":"https://app.example.com/a"}', signed_in
        )
    )
    app.executor.shutdown()

    assert checkout.json()["url"].startswith(f"{origin}/offline/checkout/cs_offline_")
    assert portal.json() == {"url": f"{origin}/offline/portal/bps_offline_1"}


def test_a_handlers_own_line_carries_its_request_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The webhook logs in a handler thread; its line has the request's id, and the next line none."""
    app = create_app(
        {
            "STRIPE_SECRET_KEY": "sk_test_1",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3",
            "ACCESS_LOG": "off",
        }
    )
    payload = event("invoice.paid", invoice(), event_id="evt_traced")
    headers = {"Stripe-Signature": signature(payload), "X-Request-Id": "hook-1"}
    asyncio.run(call(app, "POST", "/api/webhook/stripe", payload, headers))
    app.executor.shutdown()
    logging.getLogger("handlers").info("after the request")

    lines = capsys.readouterr().err.splitlines()
    assert re.fullmatch(
        r".* handlers\.webhook \[hook-1\] stripe event evt_traced type=invoice\.paid .*", lines[-2]
    )
    assert lines[-1].endswith(" INFO handlers [-] after the request")


def test_a_jwt_secret_verifies_hs256_sessions_beside_the_jwks() -> None:
    """With SUPABASE_URL and the secret, a session signed with the secret is read (no JWKS fetch needed)."""
    settings = Settings.from_env(
        {"STRIPE_SECRET_KEY": "sk_test_1", "SUPABASE_URL": SUPABASE_URL, "SUPABASE_JWT_SECRET": SECRET}
    )
    router = build_router(settings, profiles=FakeProfiles())
    request = Request("POST", "/x", (("authorization", f"Bearer {make_token()}"),))
    assert router.deps.sessions.user(request).id == USER_ID


PORTAL_SESSION = {"id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/s"}
STRIPE_SETTINGS = {
    "STRIPE_SECRET_KEY": "sk_test_settings0123",
    "STRIPE_API_BASE": "http://127.0.0.1:12111",
    "STRIPE_TIMEOUT": "3.5",
    "STRIPE_MAX_RETRIES": "1",
    "STRIPE_RETRY_DELAY": "0",
    "STRIPE_PORTAL_CONFIGURATION": "bpc_1",
}


def test_the_stripe_settings_reach_the_sdks_calls() -> None:
    """STRIPE_API_BASE, _TIMEOUT, _MAX_RETRIES, _RETRY_DELAY and _PORTAL_CONFIGURATION all take effect."""
    settings = Settings.from_env(STRIPE_SETTINGS)
    payments = build_router(settings, profiles=FakeProfiles()).deps.payments
    url = "http://127.0.0.1:12111/v1/billing_portal/sessions"
    with responses.RequestsMock() as mocked:
        mocked.post(url, status=500, json={"error": {"type": "api_error", "message": "try again"}})
        mocked.post(url, json=PORTAL_SESSION)
        assert payments.create_portal_session("cus_1", "https://app.example.com/a") == PORTAL_SESSION["url"]
        first, second = mocked.calls
    assert second.request.headers["Authorization"] == "Bearer sk_test_settings0123"
    assert parse_qs(str(second.request.body)) == {
        "customer": ["cus_1"],
        "return_url": ["https://app.example.com/a"],
        "configuration": ["bpc_1"],
    }
    assert 0 < first.request.req_kwargs["timeout"] <= 3.5  # type: ignore[attr-defined]


def test_the_stripe_settings_reach_the_edges_fetch() -> None:
    """At the edge the same settings shape the calls sent through fetch."""
    fetch = FakeFetch((500, {"error": {"type": "api_error", "message": "try again"}}), (200, PORTAL_SESSION))
    edge = create_edge({**EDGE, **STRIPE_SETTINGS}, fetch, profiles=FakeProfiles())
    assert (
        edge.router.deps.payments.create_portal_session("cus_1", "https://app.example.com/a")
        == (PORTAL_SESSION["url"])
    )
    assert [sent.url for sent in fetch.sent] == ["http://127.0.0.1:12111/v1/billing_portal/sessions"] * 2
    assert fetch.sent[1].form() == {
        "customer": "cus_1",
        "return_url": "https://app.example.com/a",
        "configuration": "bpc_1",
    }
    assert fetch.sent[1].headers["Authorization"] == "Bearer sk_test_settings0123"
    assert 0 < fetch.sent[0].timeout <= 3.5


def test_the_supabase_settings_reach_the_rest_store() -> None:
    """DATABASE_URL=supabase: the project's URL, both keys and SUPABASE_TIMEOUT shape each REST call."""
    fetch = FakeFetch((200, {"id": USER_ID}), (200, []))
    edge = create_edge({**EDGE, "SUPABASE_TIMEOUT": "2.5"}, fetch, payments=FakePayments())
    edge.router.deps.profiles.get(USER_ID, "user-token")
    edge.router.deps.profiles.ping()
    read, ping = fetch.sent
    assert read.url.startswith("https://abcd.supabase.co/rest/v1/profiles?")
    assert (read.headers["apikey"], read.headers["Authorization"], read.timeout) == (
        "anon",
        "Bearer user-token",
        2.5,
    )
    assert (ping.headers["apikey"], ping.headers["Authorization"]) == ("service", "Bearer service")


def signed_in(router: Router, *headers: tuple[str, str]) -> str | None:
    """The user id the router's session reader reads from these headers, or None when refused."""
    try:
        return router.deps.sessions.user(Request("POST", "/x", headers)).id
    except NotSignedIn:
        return None


@pytest.mark.parametrize("supabase_url", [None, SUPABASE_URL], ids=["secret-only", "secret-and-jwks"])
def test_the_sessions_follow_supabase_url_the_jwt_secret_and_the_cookie_name(
    supabase_url: str | None,
) -> None:
    """The secret verifies HS256 sessions, of SUPABASE_URL's issuer only; SUPABASE_AUTH_COOKIE is read."""
    environ = {
        "STRIPE_SECRET_KEY": "sk_test_1",
        "SUPABASE_JWT_SECRET": SECRET,
        "SUPABASE_AUTH_COOKIE": "my-session",
    }
    if supabase_url:
        environ["SUPABASE_URL"] = supabase_url
    router = build_router(Settings.from_env(environ), profiles=FakeProfiles())
    issuer = None if supabase_url is None else "https://elsewhere.example.com/auth/v1"
    assert signed_in(router, ("authorization", f"Bearer {make_token()}")) == USER_ID
    assert signed_in(router, ("authorization", f"Bearer {make_token(iss=issuer)}")) == (
        USER_ID if supabase_url is None else None
    )
    assert signed_in(router, ("cookie", cookie_header(make_token(), name="my-session"))) == USER_ID


def test_without_the_jwt_secret_an_hs256_session_is_refused_not_a_500() -> None:
    """SUPABASE_URL alone: only the JWKS verifies, and an HS256 token is simply not signed in."""
    environ = {"STRIPE_SECRET_KEY": "sk_test_1", "SUPABASE_URL": SUPABASE_URL}
    router = build_router(Settings.from_env(environ), profiles=FakeProfiles())
    assert signed_in(router, ("authorization", f"Bearer {make_token()}")) is None


def test_create_app_reads_the_process_environment_and_takes_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """create_app() with no mapping reads os.environ; a keyword replaces the adapter it names."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_from_env")
    monkeypatch.setenv("WORKER_THREADS", "3")
    profiles, payments, schemas = FakeProfiles(), FakePayments(), Contract.load()
    app = create_app(profiles=profiles, payments=payments, contract=schemas)
    assert app.router.deps.settings.worker_threads == 3
    deps = app.router.deps
    assert (deps.profiles, deps.payments) == (profiles, payments) and deps.contract is schemas


def test_create_edge_keeps_the_adapters_it_is_given() -> None:
    """Overrides win at the edge too: given payments, profiles and keys are the ones used."""
    profiles, payments, keys = FakeProfiles(), FakePayments(), HS256Keys(SECRET)
    deps = create_edge(EDGE, FakeFetch(), profiles=profiles, payments=payments, signing_keys=keys).router.deps
    assert (deps.profiles, deps.payments, deps.sessions._keys) == (profiles, payments, keys)
    stand_in = OfflinePayments("http://127.0.0.1:8000")
    assert create_edge(EDGE, FakeFetch(), stand_in=stand_in).router.deps.payments is stand_in


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("STRIPE_MAX_RETRIES", "0", id="no-retries"),
        # STRIPE_RETRY_DELAY reaches the SDK: a pause that would end after STRIPE_TIMEOUT is not taken.
        pytest.param("STRIPE_RETRY_DELAY", "60", id="pause-past-the-timeout"),
    ],
)
def test_a_stripe_failure_is_final_without_retries_or_time_to_retry(name: str, value: str) -> None:
    """One attempt, whatever Stripe answered, when no retry is allowed or none fits in the timeout."""
    settings = Settings.from_env({**STRIPE_SETTINGS, name: value})
    payments = build_router(settings, profiles=FakeProfiles()).deps.payments
    url = "http://127.0.0.1:12111/v1/billing_portal/sessions"
    with responses.RequestsMock() as mocked:
        mocked.post(url, status=500, json={"error": {"type": "api_error", "message": "try again"}})
        with pytest.raises(PaymentsError):
            payments.create_portal_session("cus_1", "https://app.example.com/a")
        assert len(mocked.calls) == 1


def test_an_es256_session_is_verified_with_the_projects_jwks_fetched_within_supabase_timeout() -> None:
    """SUPABASE_URL's JWKS verifies asymmetric sessions; its fetch is bounded by SUPABASE_TIMEOUT."""
    environ = {"STRIPE_SECRET_KEY": "sk_test_1", "SUPABASE_URL": SUPABASE_URL, "SUPABASE_TIMEOUT": "2.5"}
    router = build_router(Settings.from_env(environ), profiles=FakeProfiles())
    key = es256()
    with responses.RequestsMock() as mocked:
        mocked.get(f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json", json=jwks(key))
        assert signed_in(router, ("authorization", f"Bearer {key.token()}")) == USER_ID
        assert mocked.calls[0].request.req_kwargs["timeout"] == 2.5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("database", "sessions"),
    [
        pytest.param("sqlite:///{tmp}/p.sqlite3", "{tmp}/offline-stripe.sqlite3", id="beside-sqlite"),
        pytest.param("sqlite:///:memory:", "var/offline-stripe.sqlite3", id="in-memory"),
        pytest.param("postgresql://billing@127.0.0.1:1/app", "var/offline-stripe.sqlite3", id="postgresql"),
    ],
)
def test_offline_mode_says_where_its_sessions_and_secret_are(
    database: str,
    sessions: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without a Stripe key the summary names the stand-in's sessions file and the local JWT secret's."""
    monkeypatch.chdir(tmp_path)
    app = create_app({"DATABASE_URL": database.format(tmp=tmp_path)})
    app.executor.shutdown()

    err = capsys.readouterr().err
    assert f" INFO handlers [-] offline: sessions in {sessions.format(tmp=tmp_path)}; links from " in err
    assert " WARNING handlers [-] sessions: HS256 with the local secret in var/local-jwt-secret " in err


@pytest.mark.parametrize("given", ["payments", "stand_in"])
def test_payments_handed_in_are_not_summarised_as_offline(
    given: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a Stripe key but with payments handed in, the summary speaks of no stand-in of its own."""
    monkeypatch.chdir(tmp_path)
    payments = FakePayments() if given == "payments" else OfflinePayments("http://127.0.0.1:8000")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3"}, **{given: payments})  # type: ignore[arg-type]
    app.executor.shutdown()

    err = capsys.readouterr().err
    assert " INFO handlers [-] stripe: mode unknown\n" in err
    assert "offline" not in err and "local secret" not in err


@pytest.mark.parametrize("root", ["app", "edge"])
def test_log_format_json_makes_the_summary_json(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    """LOG_FORMAT=json: the start-up summary is one JSON object per line, in both roots."""
    environ = {**EDGE, "LOG_FORMAT": "json"}
    if root == "app":
        create_app(environ, profiles=FakeProfiles()).executor.shutdown()
    else:
        create_edge(environ, FakeFetch())

    first = json.loads(capsys.readouterr().err.splitlines()[0])
    assert (first["level"], first["logger"], first["message"]) == ("INFO", "handlers", "stripe: test mode")


def test_the_edges_summary_names_hs256_only(capsys: pytest.CaptureFixture[str]) -> None:
    """At the edge no JWKS verifies, so the summary names none, though SUPABASE_URL is set."""
    create_edge(EDGE, FakeFetch())
    err = capsys.readouterr().err
    assert err.splitlines()[3].endswith(" INFO handlers [-] sessions: HS256 (SUPABASE_JWT_SECRET)")


def test_a_request_dispatched_without_an_id_logs_a_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A request handed to the router as it is, with no id, logs "-" as every line outside a request."""
    app = create_app(
        {
            "STRIPE_SECRET_KEY": "sk_test_1",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3",
        }
    )
    payload = event("invoice.paid", invoice(), event_id="evt_no_id")
    headers = (("stripe-signature", signature(payload)),)
    assert app.router.dispatch(Request("POST", "/api/webhook/stripe", headers, payload)).status == 200
    app.executor.shutdown()

    line = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(r".* handlers\.webhook \[-\] stripe event evt_no_id type=invoice\.paid .*", line)


def test_every_worker_reads_the_stand_ins_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, a checkout made by one worker's app opens on another's: the sessions are in one file."""
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3"})
    one, other = build_router(settings), build_router(settings)
    url = one.deps.payments.create_checkout_session(
        {"mode": "payment", "line_items": [{"price": "price_1", "quantity": 1}]}, None
    )
    assert other.dispatch(Request("GET", url.removeprefix("http://localhost"))).status == 200


def test_the_stand_in_keeps_stripe_portal_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, a portal configuration Stripe could not open either is refused, as Stripe would."""
    monkeypatch.chdir(tmp_path)
    environ = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3",
        "STRIPE_PORTAL_CONFIGURATION": "bpc_missing_1",
    }
    payments = build_router(Settings.from_env(environ)).deps.payments
    with pytest.raises(PortalNotConfigured):
        payments.create_portal_session("cus_1", "https://app.example.com/a")
