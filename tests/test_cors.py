"""handlers.cors through the ASGI shim and the edge entry: preflights, CORS headers, cookie POSTs."""

from __future__ import annotations

import asyncio
import json

import pytest

from handlers.asgi import App
from handlers.edge import Edge
from handlers.ports import Profile
from handlers.router import Answer, Router
from handlers.settings import Settings
from tests.helpers.asgi_client import Result, call
from tests.helpers.fakes import (
    SECRET,
    SUPABASE_URL,
    USER_ID,
    FakePayments,
    FakeProfiles,
    cookie_header,
    make_router,
    make_token,
)

PORTAL = "/api/stripe/create-portal"
APP_ORIGIN = "https://app.example.com"
EVIL = "https://evil.example.net"
HOST = "billing.example.com"
BODY = json.dumps({"returnUrl": "https://app.example.com/account"}).encode()
REFUSED = {"error": "Cross-site request refused"}
PORTAL_URL = {"url": "https://billing.stripe.com/p/session/test_1"}


def cors_router(payments: FakePayments, allowed: tuple[str, ...] = (APP_ORIGIN,)) -> Router:
    """The router over fakes with ALLOWED_ORIGINS set to `allowed` and a customer for USER_ID."""
    settings = Settings(supabase_url=SUPABASE_URL, supabase_jwt_secret=SECRET, allowed_origins=allowed)
    profiles = FakeProfiles(Profile(USER_ID, customer_id="cus_123"))
    return make_router(payments, profiles, settings)


def make_app(payments: FakePayments, allowed: tuple[str, ...] = (APP_ORIGIN,)) -> App:
    """An App over `cors_router`."""
    return App(cors_router(payments, allowed), threads=2)


def header_lines(entry: str, method: str, headers: dict[str, str], body: bytes) -> list[tuple[str, str]]:
    """Every response header line, repeats kept, from one portal request through `entry`, sorted."""
    sent = {"Host": HOST, "X-Request-Id": "cors-1", **headers}
    if entry == "asgi":
        return sorted(asyncio.run(call(make_app(FakePayments()), method, PORTAL, body, sent)).pairs)
    _, pairs, _ = Edge(cors_router(FakePayments())).handle(method, PORTAL, sent, body)
    return sorted(pairs)


def send(app: App, method: str, headers: dict[str, str], body: bytes = BODY) -> Result:
    """One request to the portal path."""
    return asyncio.run(call(app, method, PORTAL, body, {"Host": HOST, **headers}))


@pytest.fixture(name="payments")
def _payments() -> FakePayments:
    return FakePayments()


def test_preflight_from_a_listed_origin(payments: FakePayments) -> None:
    """OPTIONS from a listed origin: 204, empty body, the origin echoed with credentials and methods."""
    result = send(
        make_app(payments),
        "OPTIONS",
        {
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key",
        },
        b"",
    )
    assert (result.status, result.body) == (204, b"")
    assert {k: v for k, v in result.headers.items() if k.startswith("access-control") or k == "vary"} == {
        "access-control-allow-origin": APP_ORIGIN,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": "authorization, content-type, idempotency-key, x-request-id",
        "access-control-max-age": "600",
        "vary": "Origin",
    }
    assert "content-length" not in result.headers
    assert payments.portals == []


@pytest.mark.parametrize("origin", [APP_ORIGIN, EVIL], ids=["listed", "unlisted"])
def test_a_preflight_is_labelled_once_and_has_no_content_type(payments: FakePayments, origin: str) -> None:
    """A 204 preflight carries each CORS header once and no content-type, since it has no body."""
    app = make_app(payments)
    answer = app.router.head("OPTIONS", PORTAL, [("Origin", origin), ("X-Request-Id", "pre-1")])
    assert isinstance(answer, Answer)
    names = [name for name, _ in answer.headers]
    assert len(names) == len(set(names))
    assert "content-type" not in names
    assert names.count("vary") == 1


def test_preflight_from_an_unlisted_origin_grants_nothing(payments: FakePayments) -> None:
    """OPTIONS from another origin: 204 with no Access-Control-Allow-* headers, so the browser blocks."""
    result = send(
        make_app(payments), "OPTIONS", {"Origin": EVIL, "Access-Control-Request-Method": "POST"}, b""
    )
    assert result.status == 204
    assert not any(name.startswith("access-control") for name in result.headers)
    assert result.headers["vary"] == "Origin"


ENTRIES = pytest.mark.parametrize("entry", ["asgi", "edge"])
ALLOW_ORIGIN = [
    ("access-control-allow-credentials", "true"),
    ("access-control-allow-origin", APP_ORIGIN),
]


@ENTRIES
def test_a_listed_preflight_sends_each_header_once(entry: str) -> None:
    """A browser rejects two Allow-Origin values: exactly these lines, and no content-type on the 204."""
    preflight = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}
    assert header_lines(entry, "OPTIONS", preflight, b"") == [
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-headers", "authorization, content-type, idempotency-key, x-request-id"),
        ("access-control-allow-methods", "GET, POST, OPTIONS"),
        ("access-control-allow-origin", APP_ORIGIN),
        ("access-control-max-age", "600"),
        ("vary", "Origin"),
        ("x-request-id", "cors-1"),
    ]


@ENTRIES
def test_an_unlisted_preflight_sends_only_vary(entry: str) -> None:
    """A preflight from an unlisted origin grants nothing: one `vary: Origin` and the request id."""
    preflight = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    assert header_lines(entry, "OPTIONS", preflight, b"") == [("vary", "Origin"), ("x-request-id", "cors-1")]


@ENTRIES
def test_a_labelled_post_sends_each_header_once(entry: str) -> None:
    """A POST from a listed origin: the JSON headers and each CORS header exactly once."""
    headers = {"Origin": APP_ORIGIN, "Authorization": f"Bearer {make_token()}"}
    body = json.dumps(PORTAL_URL, separators=(",", ":")).encode()
    assert header_lines(entry, "POST", headers, BODY) == [
        *ALLOW_ORIGIN,
        ("content-length", str(len(body))),
        ("content-type", "application/json"),
        ("vary", "Origin"),
        ("x-request-id", "cors-1"),
    ]


def test_without_allowed_origins_options_is_405_as_before(payments: FakePayments) -> None:
    """With ALLOWED_ORIGINS unset there is no CORS: OPTIONS is a 405 and no CORS headers are sent."""
    result = send(make_app(payments, ()), "OPTIONS", {"Origin": APP_ORIGIN}, b"")
    assert (result.status, result.json()) == (405, {"error": "Method not allowed"})
    assert "access-control-allow-origin" not in result.headers


def test_a_post_from_a_listed_origin_carries_cors_headers(payments: FakePayments) -> None:
    """A cookie POST from a listed origin runs and its answer allows that origin with credentials."""
    result = send(make_app(payments), "POST", {"Origin": APP_ORIGIN, "Cookie": cookie_header(make_token())})
    assert (result.status, result.json()) == (200, PORTAL_URL)
    assert result.headers["access-control-allow-origin"] == APP_ORIGIN
    assert result.headers["access-control-allow-credentials"] == "true"
    assert result.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param(EVIL, id="other-site"),
        pytest.param("null", id="null"),
        pytest.param("https://app.example.com.evil.example.net", id="suffix-trick"),
        pytest.param("http://app.example.com", id="listed-host-other-scheme"),
    ],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["whole-cookie", "chunked-cookie"])
def test_a_cookie_post_from_another_origin_is_refused(
    payments: FakePayments, origin: str, chunked: bool
) -> None:
    """A POST riding on the session cookie from an unlisted origin is 403 before the handler runs."""
    cookie = cookie_header(make_token(), chunk=200 if chunked else None)
    result = send(make_app(payments), "POST", {"Origin": origin, "Cookie": cookie})
    assert (result.status, result.json()) == (403, REFUSED)
    assert result.headers["content-type"] == "application/json"
    assert "access-control-allow-origin" not in result.headers
    assert payments.portals == []


@pytest.mark.parametrize("allowed", [(APP_ORIGIN,), ()], ids=["cors-on", "cors-off"])
def test_a_cookie_post_from_the_service_itself_is_allowed(
    payments: FakePayments, allowed: tuple[str, ...]
) -> None:
    """Origin equal to the Host the request was sent to is the service's own, listed or not."""
    headers = {"Origin": f"https://{HOST}", "Cookie": cookie_header(make_token())}
    result = send(make_app(payments, allowed), "POST", headers)
    assert (result.status, result.json()) == (200, PORTAL_URL)


def test_the_check_holds_without_allowed_origins(payments: FakePayments) -> None:
    """With ALLOWED_ORIGINS unset a cross-site cookie POST is still refused."""
    result = send(make_app(payments, ()), "POST", {"Origin": EVIL, "Cookie": cookie_header(make_token())})
    assert (result.status, result.json()) == (403, REFUSED)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Cookie": cookie_header(make_token())}, id="cookie-without-origin"),
        pytest.param({"Origin": EVIL, "Authorization": f"Bearer {make_token()}"}, id="bearer-from-anywhere"),
        pytest.param(
            {
                "Origin": EVIL,
                "Authorization": f"Bearer {make_token()}",
                "Cookie": cookie_header(make_token()),
            },
            id="bearer-wins-over-cookie",
        ),
    ],
)
def test_requests_not_riding_on_a_cookie_cross_site_run(
    payments: FakePayments, headers: dict[str, str]
) -> None:
    """No Origin (not a browser) or a Bearer token (not ambient) is not a cross-site cookie request."""
    result = send(make_app(payments), "POST", headers)
    assert (result.status, result.json()) == (200, PORTAL_URL)
    assert "access-control-allow-origin" not in result.headers


def test_other_cookies_do_not_count(payments: FakePayments) -> None:
    """A POST from another origin with only unrelated cookies reaches the handler (and is 401 there)."""
    result = send(make_app(payments), "POST", {"Origin": EVIL, "Cookie": "theme=dark; sb-other-auth-token=x"})
    assert (result.status, result.json()) == (
        401,
        {"error": "You must be logged in to view billing information."},
    )


def app_for(settings: Settings, payments: FakePayments) -> App:
    """An App over fakes with `settings` and a customer for USER_ID."""
    profiles = FakeProfiles(Profile(USER_ID, customer_id="cus_123"))
    return App(make_router(payments, profiles, settings), threads=2)


def post_as(app: App, headers: dict[str, str]) -> Result:
    """One portal POST with exactly `headers` (no Host unless given)."""
    return asyncio.run(call(app, "POST", PORTAL, BODY, headers))


# Neither SUPABASE_URL nor SUPABASE_AUTH_COOKIE: the cookie's name is not known in advance.
NO_PROJECT = Settings(supabase_jwt_secret=SECRET)


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(cookie_header(make_token(), name="sb-anyproject-auth-token"), id="whole"),
        pytest.param(cookie_header(make_token(), name="sb-127-auth-token", chunk=200), id="chunked"),
    ],
)
def test_without_a_project_any_supabase_session_cookie_is_refused_cross_site(
    payments: FakePayments, cookie: str
) -> None:
    """With no cookie name configured, any sb-<ref>-auth-token (or its chunks) rides cross-site: 403."""
    result = post_as(app_for(NO_PROJECT, payments), {"Host": HOST, "Origin": EVIL, "Cookie": cookie})
    assert (result.status, result.json()) == (403, REFUSED)
    assert payments.portals == []


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("sb-anyproject-auth-token-code-verifier=abc", id="pkce-verifier"),
        pytest.param("sb-a.b-auth-token=abc", id="dot-in-ref"),
        pytest.param("sb-anyproject-auth-token.x=abc", id="not-a-chunk"),
        pytest.param("theme=dark", id="unrelated"),
    ],
)
def test_without_a_project_other_cookies_do_not_count(payments: FakePayments, cookie: str) -> None:
    """Cookies that are not a Supabase session reach the handler, which finds no session: 401."""
    result = post_as(app_for(NO_PROJECT, payments), {"Host": HOST, "Origin": EVIL, "Cookie": cookie})
    assert (result.status, result.json()) == (
        401,
        {"error": "You must be logged in to view billing information."},
    )


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        pytest.param(f"https://{HOST}", f"{HOST}:443", id="https-host-names-443"),
        pytest.param(f"http://{HOST}", f"{HOST}:80", id="http-host-names-80"),
        pytest.param(f"https://{HOST}:443", HOST, id="origin-names-443"),
        pytest.param(f"https://{HOST}:8443", f"{HOST}:8443", id="same-other-port"),
        pytest.param(f"https://{HOST}", "Billing.Example.COM", id="host-case"),
    ],
)
def test_the_services_own_origin_with_or_without_its_default_port(
    payments: FakePayments, origin: str, host: str
) -> None:
    """Host and Origin name the same place whether or not either spells out the scheme's default port."""
    cookie = cookie_header(make_token())
    result = post_as(make_app(payments), {"Host": host, "Origin": origin, "Cookie": cookie})
    assert (result.status, result.json()) == (200, PORTAL_URL)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        pytest.param(f"https://{HOST}", f"{HOST}:80", id="https-origin-http-port"),
        pytest.param(f"http://{HOST}", f"{HOST}:443", id="http-origin-https-port"),
        pytest.param(f"https://{HOST}", f"{HOST}:8443", id="other-port-on-host"),
        pytest.param(f"https://{HOST}:8443", HOST, id="other-port-in-origin"),
        pytest.param(f"https://{HOST}", "other.example.com", id="other-host"),
        pytest.param(f"https://{HOST}", "", id="empty-host"),
        pytest.param(f"https://{HOST}", None, id="no-host"),
    ],
)
def test_an_origin_that_is_not_the_host_is_cross_site(
    payments: FakePayments, origin: str, host: str | None
) -> None:
    """Another port, scheme or host, or no Host header to compare with, is not the service itself: 403."""
    headers = {"Origin": origin, "Cookie": cookie_header(make_token())}
    if host is not None:
        headers["Host"] = host
    result = post_as(make_app(payments, ()), headers)
    assert (result.status, result.json()) == (403, REFUSED)
    assert payments.portals == []


@pytest.mark.parametrize(
    "origin",
    [pytest.param(EVIL, id="unlisted-origin"), pytest.param(None, id="no-origin")],
)
def test_an_answer_to_an_unlisted_origin_varies_on_origin_and_allows_nothing(
    payments: FakePayments, origin: str | None
) -> None:
    """Caches must not hand a listed origin's answer to others: `Vary: Origin`, and no Allow-* header."""
    headers = {"Authorization": f"Bearer {make_token()}"}
    if origin is not None:
        headers["Origin"] = origin
    result = send(make_app(payments), "POST", headers)
    assert (result.status, result.json()) == (200, PORTAL_URL)
    cors = [
        (name, value) for name, value in result.pairs if name.startswith("access-control") or name == "vary"
    ]
    assert cors == [("vary", "Origin")]
