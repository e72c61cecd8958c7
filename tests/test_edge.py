"""handlers.edge: the plain (method, URL, headers, body) entry, over fakes and the fetch transport.

Also the Supabase REST store over fetch, as a worker builds it; the last tests need Pyodide.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys
import time
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest

from handlers.adapters.fetch import runtime_fetch
from handlers.adapters.stripe_payments import StripePayments
from handlers.adapters.supabase_profiles import SupabaseProfiles
from handlers.edge import Edge
from handlers.http import Request, Response
from handlers.offline.payments import OfflinePayments
from handlers.ports import Profile, ProfileUpdate, StoreError
from handlers.router import Router, route
from handlers.settings import Settings
from tests.helpers.fake_fetch import FakeFetch
from tests.helpers.fakes import (
    COOKIE,
    SECRET,
    SUPABASE_URL,
    USER_ID,
    FakePayments,
    FakeProfiles,
    cookie_header,
    make_router,
    make_token,
    session_json,
)
from tests.helpers.stripe_events import WEBHOOK_SECRET, signature
from tests.helpers.stripe_events import event as stripe_event

CHECKOUT = "/api/stripe/create-checkout"
PORTAL = "/api/stripe/create-portal"
WEBHOOK = "/api/webhook/stripe"
BASE = "http://127.0.0.1:8000"
APP_ORIGIN = "https://app.example.com"
GOOD = {
    "priceId": "price_1",
    "successUrl": "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}",
    "cancelUrl": "https://app.example.com/no",
    "mode": "payment",
}
RETURN = {"returnUrl": "https://app.example.com/account"}
SMALL = Settings(supabase_url=SUPABASE_URL, supabase_jwt_secret=SECRET, max_body_bytes=1024)
MODE = (
    "Mode is required (either 'payment' for one-time payments or 'subscription' for recurring subscription)"
)


def small(payments: FakePayments | None = None, profiles: FakeProfiles | None = None) -> Router:
    """A Router over fakes with a 1 KiB body limit."""
    return make_router(payments, profiles, SMALL)


def handle(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    router: Router | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Call the edge entry; JSON-encode `body` unless it is bytes; parse the answer."""
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    status, pairs, data = Edge(router or small()).handle(method, url, headers or {}, raw)
    return status, dict(pairs), json.loads(data)


def without(*names: str, **changes: Any) -> dict[str, Any]:
    """GOOD less `names`, with `changes` applied."""
    body = {key: value for key, value in GOOD.items() if key not in names}
    return {**body, **changes}


def test_checkout_ok_headers_and_bytes() -> None:
    """A 200 has exactly content-type, content-length and the echoed x-request-id, and compact JSON bytes."""
    status, headers, data = Edge(small()).handle(
        "POST", CHECKOUT, {"X-Request-Id": "edge-1"}, json.dumps(GOOD).encode()
    )
    assert status == 200
    assert data == b'{"url":"https://checkout.stripe.com/c/pay/cs_test_1"}'
    assert headers == [
        ("content-type", "application/json"),
        ("content-length", str(len(data))),
        ("x-request-id", "edge-1"),
    ]


@pytest.mark.parametrize(
    ("method", "url", "body", "headers", "status", "message"),
    [
        pytest.param("POST", CHECKOUT, without("priceId"), None, 400, "Price ID is required", id="no-price"),
        pytest.param(
            "POST", CHECKOUT, without(priceId=""), None, 400, "Price ID is required", id="empty-price"
        ),
        pytest.param(
            "POST",
            CHECKOUT,
            without("successUrl"),
            None,
            400,
            "Success and cancel URLs are required",
            id="no-success",
        ),
        pytest.param(
            "POST",
            CHECKOUT,
            without(cancelUrl=""),
            None,
            400,
            "Success and cancel URLs are required",
            id="no-cancel",
        ),
        pytest.param("POST", CHECKOUT, without("mode"), None, 400, MODE, id="no-mode"),
        pytest.param("POST", CHECKOUT, without(mode="setup"), None, 400, MODE, id="bad-mode"),
        pytest.param(
            "POST", CHECKOUT, b'{"priceId": ', None, 400, "Request body must be valid JSON", id="not-json"
        ),
        pytest.param("POST", CHECKOUT, [], None, 400, "Request body must be a JSON object", id="array"),
        pytest.param(
            "POST",
            CHECKOUT,
            without(successUrl="/relative"),
            None,
            400,
            "successUrl must be an absolute http or https URL",
            id="relative-url",
        ),
        pytest.param(
            "POST",
            PORTAL,
            RETURN,
            None,
            401,
            "You must be logged in to view billing information.",
            id="portal-401",
        ),
        pytest.param(
            "POST",
            PORTAL,
            {},
            {"Authorization": f"Bearer {make_token()}"},
            400,
            "Return URL is required",
            id="portal-no-return",
        ),
        pytest.param(
            "POST",
            PORTAL,
            RETURN,
            {"Cookie": cookie_header(make_token(sub="someone-else"))},
            400,
            "You don't have a billing account yet. Make a purchase first.",
            id="portal-no-account",
        ),
        pytest.param("POST", "/api/stripe/nope", GOOD, None, 404, "Not found", id="404"),
        pytest.param(
            "POST", CHECKOUT, b"{" + b" " * 1100 + b"}", None, 413, "Request body too large", id="413"
        ),
        pytest.param(
            "POST",
            CHECKOUT,
            b"{}",
            {"Content-Length": "5000"},
            413,
            "Request body too large",
            id="413-declared",
        ),
    ],
)
def test_every_documented_error(
    method: str, url: str, body: Any, headers: dict[str, str] | None, status: int, message: str
) -> None:
    """Each documented status and message comes back byte for byte through the edge entry."""
    profiles = FakeProfiles(Profile(USER_ID, customer_id="cus_1"))
    payments = FakePayments()
    got = handle(method, url, body, headers, small(payments, profiles))
    assert (got[0], got[2]) == (status, {"error": message})
    assert payments.checkouts == [] and payments.portals == []


@pytest.mark.parametrize(
    ("method", "path", "allow"), [("GET", CHECKOUT, "POST"), ("POST", "/healthz", "GET")]
)
def test_wrong_method_is_405_with_allow(method: str, path: str, allow: str) -> None:
    """A known path with the wrong method is 405 with an Allow header."""
    status, headers, body = handle(method, path)
    assert (status, body, headers["allow"]) == (405, {"error": "Method not allowed"}, allow)


def test_absolute_url_with_query_and_lower_case_method() -> None:
    """An absolute URL routes by its path; the method is matched case-insensitively."""
    status, _, body = handle("post", f"https://billing.example.com{CHECKOUT}?utm=x", GOOD)
    assert (status, body) == (200, {"url": "https://checkout.stripe.com/c/pay/cs_test_1"})


@pytest.mark.parametrize("given", ["", "has space", "x" * 200], ids=["none", "space", "long"])
def test_request_id_generated_when_missing_or_unsafe(given: str) -> None:
    """An absent or unsafe X-Request-Id is replaced by a 32-hex id."""
    _, headers, _ = handle("GET", "/healthz", headers={"x-request-id": given} if given else {})
    assert headers["x-request-id"] != given
    int(headers["x-request-id"], 16)
    assert len(headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(cookie_header(make_token()), id="base64"),
        pytest.param(cookie_header(make_token(), encoding="raw"), id="raw"),
        pytest.param(cookie_header(make_token(), chunk=200), id="chunked"),
    ],
)
def test_portal_signed_in_by_hs256_cookie(cookie: str) -> None:
    """An HS256 Supabase session cookie signs the user in; the portal opens for their customer."""
    payments = FakePayments()
    router = small(payments, FakeProfiles(Profile(USER_ID, customer_id="cus_1")))
    status, _, body = handle("POST", PORTAL, RETURN, {"Cookie": cookie}, router)
    assert (status, body) == (200, {"url": "https://billing.stripe.com/p/session/test_1"})
    assert payments.portals == [("cus_1", "https://app.example.com/account")]


def test_forged_cookie_is_401() -> None:
    """A cookie whose token is signed with another secret does not sign anyone in."""
    token = make_token(secret="another-project-secret-that-is-long-enough!")
    status, _, body = handle("POST", PORTAL, RETURN, {"Cookie": cookie_header(token)})
    assert (status, body) == (401, {"error": "You must be logged in to view billing information."})


def test_unexpected_exception_is_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    """A bug in an adapter is the generic 500 with no detail, logged with the request id."""

    class Broken(FakePayments):
        def create_checkout_session(self, params: Any, idempotency_key: str | None) -> str:
            raise KeyError("sk_live_secret_detail")

    with caplog.at_level(logging.ERROR, logger="handlers"):
        status, _, body = handle("POST", CHECKOUT, GOOD, {"X-Request-Id": "bug-2"}, small(Broken()))
    assert (status, body) == (500, {"error": "Internal server error"})
    assert any("request_id=bug-2" in record.getMessage() for record in caplog.records)


def fetch_router(fetch: FakeFetch, profiles: FakeProfiles | None = None) -> Router:
    """A Router whose payments are the real SDK over `fetch`."""
    payments = StripePayments("sk_test_edge", timeout=3.0, max_retries=0, fetch=fetch)
    return make_router(payments, profiles, SMALL)


def test_checkout_through_the_fetch_transport() -> None:
    """Checkout through the edge entry and the SDK over fetch sends the exact form and returns its URL."""
    fetch = FakeFetch(
        (200, {"id": "cs_1", "object": "checkout.session", "url": "https://checkout.stripe.com/x"})
    )
    status, _, body = handle(
        "POST", CHECKOUT, GOOD, {"Cookie": cookie_header(make_token())}, fetch_router(fetch)
    )
    assert (status, body) == (200, {"url": "https://checkout.stripe.com/x"})
    [sent] = fetch.sent
    assert sent.url == "https://api.stripe.com/v1/checkout/sessions"
    assert sent.form() == {
        "mode": "payment",
        "line_items[0][price]": "price_1",
        "line_items[0][quantity]": "1",
        "success_url": "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example.com/no",
        "allow_promotion_codes": "true",
        "client_reference_id": USER_ID,
        "customer_email": "ada@example.com",
        "customer_creation": "always",
    }
    assert sent.headers["Idempotency-Key"].startswith("checkout-")


def test_portal_through_the_fetch_transport() -> None:
    """The portal through the edge entry and fetch sends customer and return_url and returns Stripe's URL."""
    fetch = FakeFetch(
        (200, {"id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/y"})
    )
    profiles = FakeProfiles(Profile(USER_ID, customer_id="cus_9"))
    status, _, body = handle(
        "POST", PORTAL, RETURN, {"Cookie": cookie_header(make_token())}, fetch_router(fetch, profiles)
    )
    assert (status, body) == (200, {"url": "https://billing.stripe.com/y"})
    assert fetch.sent[0].form() == {"customer": "cus_9", "return_url": "https://app.example.com/account"}


def test_stripe_error_through_the_fetch_transport_is_documented_500() -> None:
    """Stripe's invalid-request message reaches the client as the documented 500 body."""
    fetch = FakeFetch(
        (400, {"error": {"type": "invalid_request_error", "message": "No such price: 'price_1'"}})
    )
    status, _, body = handle("POST", CHECKOUT, GOOD, None, fetch_router(fetch))
    assert (status, body) == (500, {"error": "No such price: 'price_1'"})


class ParityProfiles(FakeProfiles):
    """USER_ID has a customer; "down" is a store failure, "boom" a bug; applying any event fails."""

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
        if user_id == "down":
            raise StoreError("store is down")
        if user_id == "boom":
            raise RuntimeError("a bug in the store")
        return super().get(user_id, access_token)


def parity_router(now: float) -> Router:
    """A world for the parity test: offline stand-in with pages, CORS, webhook secret, 1 KiB limit."""
    settings = Settings(
        supabase_url=SUPABASE_URL,
        supabase_jwt_secret=SECRET,
        allowed_origins=(APP_ORIGIN,),
        max_body_bytes=1024,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )
    profiles = ParityProfiles(Profile(USER_ID, customer_id="cus_1"))
    return make_router(profiles=profiles, settings=settings, stand_in=OfflinePayments(BASE), now=now)


def test_the_asgi_shim_and_the_edge_send_the_same_bytes() -> None:
    """Varied requests through the ASGI shim and through the edge entry: status, headers, body identical.

    Two worlds built alike take the same requests in the same order, so state (offline sessions, portal
    session counters) moves in step; every request fixes its X-Request-Id so the ids match.
    """
    if sys.platform == "emscripten":
        pytest.skip("the ASGI shim's thread pool needs threads")
    from handlers.asgi import App
    from tests.helpers.asgi_client import call

    now = float(int(time.time()))
    app = App(parity_router(now), threads=2)
    edge = Edge(parity_router(now))
    statuses: list[int] = []

    def both(method: str, url: str, headers: dict[str, str] | None = None, body: Any = b"") -> bytes:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"X-Request-Id": f"parity-{len(statuses)}", **(headers or {})}
        parts = urlsplit(url)
        shim = asyncio.run(
            call(app, method, unquote(parts.path), raw, sent, ("203.0.113.7", 50000), parts.query)
        )
        status, pairs, data = edge.handle(method, url, sent, raw, client="203.0.113.7")
        assert (status, pairs, data) == (shim.status, shim.pairs, shim.body), (method, url)
        statuses.append(status)
        return data

    bearer = {"Authorization": f"Bearer {make_token()}"}
    cookie = cookie_header(make_token())
    event = stripe_event("invoice.paid", {"id": "in_1", "object": "invoice", "customer": "cus_1"})
    checkout_url = json.loads(both("POST", CHECKOUT, None, GOOD))["url"]
    both("POST", CHECKOUT, bearer, GOOD)
    both("post", f"https://billing.example.com{CHECKOUT}?utm=x", None, GOOD)
    both("POST", CHECKOUT, None, {})
    both("POST", CHECKOUT, None, b'{"priceId": ')
    both("POST", CHECKOUT, None, [])
    both("POST", CHECKOUT, None, without(mode="setup"))
    both("POST", CHECKOUT, None, without(successUrl="/relative"))
    both("POST", CHECKOUT, {"Authorization": f"Bearer {make_token(sub='down')}"}, GOOD)
    both("POST", CHECKOUT, {"Authorization": f"Bearer {make_token(sub='boom')}"}, GOOD)
    both("POST", CHECKOUT, None, b"{" + b" " * 1100 + b"}")
    both("POST", CHECKOUT, {"Content-Length": "5000"}, b"{}")
    both("GET", CHECKOUT)
    both("GET", "/api/stripe/create%2Dcheckout")
    both("POST", PORTAL, None, RETURN)
    both(
        "POST",
        PORTAL,
        {"Authorization": f"Bearer {make_token(secret='another-project-secret-that-is-long-enough!')}"},
        RETURN,
    )
    both("POST", PORTAL, bearer, {})
    portal_url = json.loads(both("POST", PORTAL, bearer, RETURN))["url"]
    both("POST", PORTAL, {"Cookie": cookie, "Origin": "https://evil.example", "Host": "api.example"}, RETURN)
    both("POST", PORTAL, {"Cookie": cookie, "Origin": APP_ORIGIN}, RETURN)
    both("OPTIONS", PORTAL, {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"})
    both("OPTIONS", PORTAL, {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    both("OPTIONS", "/offline/portal/bps_offline_1", {"Origin": APP_ORIGIN})
    both("GET", "/nope", {"Origin": APP_ORIGIN})
    both("GET", "/healthz")
    both("GET", "https://billing.example.com/healthz?verbose=1")
    both("GET", "/openapi.json")
    both("GET", "/error.json")
    both("POST", "/openapi.json", None, {})
    both("POST", WEBHOOK, None, event)
    both("POST", WEBHOOK, {"Stripe-Signature": "t=1,v1=00"}, event)
    both("POST", WEBHOOK, {"Stripe-Signature": signature(b"[]")}, b"[]")
    both("POST", WEBHOOK, {"Stripe-Signature": signature(event)}, event)
    page = urlsplit(checkout_url).path
    both("GET", page)
    both("POST", page, {"Content-Type": "application/x-www-form-urlencoded"}, b"email=ada%40example.com")
    both("GET", urlsplit(portal_url).path)
    both("GET", "/offline/portal/bps_offline_99")

    assert len(statuses) >= 30
    assert {200, 204, 400, 401, 403, 404, 405, 413, 500, 502} <= set(statuses)


def test_cross_site_cookie_post_is_refused_as_by_the_asgi_shim() -> None:
    """A cookie-carrying POST from a foreign Origin gets the shim's 403 here too; our own Origin passes."""
    payments = FakePayments()
    router = small(payments, FakeProfiles(Profile(USER_ID, customer_id="cus_1")))
    cookie = cookie_header(make_token())
    foreign = {"Cookie": cookie, "Origin": "https://evil.example", "Host": "api.example.com"}
    status, _, body = handle("POST", PORTAL, RETURN, foreign, router)
    assert (status, body) == (403, {"error": "Cross-site request refused"})
    assert payments.portals == []
    own = {"Cookie": cookie, "Origin": "https://api.example.com", "Host": "api.example.com"}
    assert handle("POST", PORTAL, RETURN, own, router)[0] == 200


# The Supabase REST store as an edge worker builds it: SupabaseProfiles(..., fetch=runtime_fetch()).
SUPABASE = "https://abcd.supabase.co"
ANON = "anon-key-eyJhbGciOiJIUzI1NiJ9.edge"
SERVICE = "service-key-eyJhbGciOiJIUzI1NiJ9.edge"
PROFILE_READ = (
    f"{SUPABASE}/rest/v1/profiles?select=id%2Cemail%2Ccustomer_id%2Cprice_id%2Chas_access&id=eq.{USER_ID}"
)
ROW = {
    "id": USER_ID,
    "email": "ada@example.com",
    "customer_id": "cus_7",
    "price_id": None,
    "has_access": True,
}
NO_ROW = {"code": "PGRST116", "details": "The result contains 0 rows", "hint": None, "message": "x"}
HEALTH_DOWN = (503, {"status": "unavailable", "profiles": "unavailable"})
STORE_DOWN = (500, {"error": "Billing information is unavailable right now. Please try again."})


class HostFailure(Exception):
    """A class of the host's own, unknown to any HTTP library."""


def store_router(fetch: Any, payments: FakePayments | None = None) -> Router:
    """The router over the REST store sending through `fetch` (2.5 s timeout)."""
    return make_router(payments, SupabaseProfiles(SUPABASE, ANON, SERVICE, timeout=2.5, fetch=fetch))


def health_and_portal(router: Router) -> tuple[tuple[int, Any], tuple[int, Any]]:
    """GET /healthz, then create-portal signed in, through the edge entry: (status, body) of each."""
    health = handle("GET", "/healthz", router=router)
    portal = handle("POST", PORTAL, RETURN, {"Authorization": f"Bearer {make_token()}"}, router)
    return (health[0], health[2]), (portal[0], portal[2])


def test_rest_store_sends_postgrest_requests_through_fetch() -> None:
    """get, apply and ping go through fetch exactly as over requests: URL, headers, JSON body, timeout."""
    fetch = FakeFetch((200, ROW), (406, NO_ROW), (200, "duplicate"), (200, []))
    store = SupabaseProfiles(SUPABASE, ANON, SERVICE, timeout=2.5, fetch=fetch)

    assert store.get(USER_ID, access_token="user-token") == Profile(
        USER_ID, "ada@example.com", "cus_7", None, True
    )
    assert store.get(USER_ID, access_token="user-token") is None
    assert store.apply(ProfileUpdate("evt_1", 1_800_000_000, customer_id="cus_7", has_access=False)) == (
        "duplicate"
    )
    store.ping()

    read, _, rpc, ping = fetch.sent
    assert (read.method, read.url, read.body, read.timeout) == ("GET", PROFILE_READ, None, 2.5)
    assert read.headers == {
        "apikey": ANON,
        "Authorization": "Bearer user-token",
        "Accept": "application/vnd.pgrst.object+json",
        "Accept-Profile": "public",
    }
    assert (rpc.method, rpc.url, rpc.timeout) == ("POST", f"{SUPABASE}/rest/v1/rpc/apply_stripe_event", 2.5)
    assert rpc.headers == {
        "apikey": SERVICE,
        "Authorization": f"Bearer {SERVICE}",
        "Content-Type": "application/json",
        "Content-Profile": "public",
        "Accept": "application/json",
    }
    assert json.loads(rpc.body or b"") == {
        "p_event_id": "evt_1",
        "p_created": 1_800_000_000,
        "p_user_id": None,
        "p_customer_id": "cus_7",
        "p_email": None,
        "p_price_id": None,
        "p_has_access": False,
    }
    assert (ping.method, ping.url, ping.body) == (
        "GET",
        f"{SUPABASE}/rest/v1/profiles?select=id&limit=1",
        None,
    )
    assert ping.headers == {
        "apikey": SERVICE,
        "Authorization": f"Bearer {SERVICE}",
        "Accept-Profile": "public",
    }


@pytest.mark.parametrize(
    ("error", "failed"),
    [
        pytest.param(AttributeError("XMLHttpRequest"), "failed: AttributeError", id="no-xmlhttprequest"),
        pytest.param(TypeError(f"fetch failed {SERVICE}"), "failed: TypeError", id="type-error"),
        pytest.param(HostFailure(f"Bearer {ANON}"), "failed: HostFailure", id="host-class"),
        pytest.param(TimeoutError("aborted"), "timed out", id="timeout"),
    ],
)
def test_rest_store_fetch_failures_of_any_class_are_store_errors(error: Exception, failed: str) -> None:
    """Whatever fetch raises, get, apply and ping raise StoreError naming the type only."""
    fetch = FakeFetch()
    fetch.fail = error
    store = SupabaseProfiles(SUPABASE, ANON, SERVICE, fetch=fetch)
    calls: list[Any] = [
        lambda: store.get(USER_ID, access_token="user-token"),
        lambda: store.apply(ProfileUpdate("evt_1", 1)),
        store.ping,
    ]
    messages = []
    for call in calls:
        with pytest.raises(StoreError) as caught:
            call()
        messages.append(str(caught.value))
    assert messages == [f"profile read {failed}", f"profile update {failed}", f"profile ping {failed}"]


def test_rest_store_fetch_failure_is_healthz_503_and_the_portals_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """fetch raising AttributeError("XMLHttpRequest"): /healthz 503 unavailable, create-portal's store 500."""
    fetch = FakeFetch()
    fetch.fail = AttributeError(f"XMLHttpRequest {SERVICE}")
    with caplog.at_level(logging.DEBUG):
        health, portal = health_and_portal(store_router(fetch))
    assert health == HEALTH_DOWN
    assert portal == STORE_DOWN
    assert len(fetch.sent) == 2
    assert SERVICE not in caplog.text


def test_rest_store_answering_through_fetch_opens_the_portal() -> None:
    """A store answering through fetch: /healthz 200, and the portal for the row's customer."""
    payments = FakePayments()
    health, portal = health_and_portal(store_router(FakeFetch((200, []), (200, ROW)), payments))
    assert health == (200, {"status": "ok", "profiles": "ok"})
    assert portal == (200, {"url": "https://billing.stripe.com/p/session/test_1"})
    assert payments.portals == [("cus_7", "https://app.example.com/account")]


# A stand-in for the runtime's fetch, in JavaScript, answering like PostgREST: `row` for the user's
# token, `noRow` with 406 for any other, a TimeoutError rejection (as AbortSignal.timeout gives) for "slow".
JS_POSTGREST = """
(rowToken, row, noRow) => {
  const sent = [];
  const answer = (status, body) => ({
    status, headers: new Headers({"Content-Type": "application/json; charset=utf-8"}),
    arrayBuffer: async () => new TextEncoder().encode(body).buffer,
  });
  const fetch = async (url, init) => {
    sent.push({url, method: init.method, headers: init.headers, signal: init.signal instanceof AbortSignal});
    const bearer = init.headers["Authorization"];
    if (bearer === "Bearer slow") throw new DOMException("The operation timed out.", "TimeoutError");
    return bearer === `Bearer ${rowToken}` ? answer(200, row) : answer(406, noRow);
  };
  return {fetch, sent: () => JSON.stringify(sent)};
}
"""
ON_PYODIDE = pytest.mark.skipif(
    sys.platform != "emscripten", reason="needs Pyodide's JavaScript bridge and JSPI"
)


@ON_PYODIDE
def test_rest_store_over_a_javascript_fetch() -> None:
    """runtime_fetch(send): a 200 row is the profile, 406 PGRST116 is none, a TimeoutError a timeout."""
    from pyodide.code import run_js  # type: ignore[import-not-found]

    token = make_token()
    fake = run_js(JS_POSTGREST)(token, json.dumps(ROW), json.dumps(NO_ROW))
    payments = FakePayments()
    router = store_router(runtime_fetch(fake.fetch), payments)

    portal = handle("POST", PORTAL, RETURN, {"Authorization": f"Bearer {token}"}, router)
    assert (portal[0], portal[2]) == (200, {"url": "https://billing.stripe.com/p/session/test_1"})
    assert payments.portals == [("cus_7", "https://app.example.com/account")]
    assert router.deps.profiles.get(USER_ID, access_token="someone-elses-token") is None
    with pytest.raises(StoreError, match="^profile read timed out$"):
        router.deps.profiles.get(USER_ID, access_token="slow")

    first = json.loads(fake.sent())[0]
    assert (first["url"], first["method"], first["signal"]) == (PROFILE_READ, "GET", True)
    assert first["headers"] == {
        "apikey": ANON,
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.pgrst.object+json",
        "Accept-Profile": "public",
    }


@ON_PYODIDE
def test_rest_store_over_the_runtimes_failing_fetch_is_healthz_503() -> None:
    """The runtime's own fetch failing (the job's stub throws): /healthz 503, create-portal's store 500."""
    health, portal = health_and_portal(store_router(runtime_fetch()))
    assert health == HEALTH_DOWN
    assert portal == STORE_DOWN


NOT_JSON = {"error": "Request body must be valid JSON"}
NOT_SIGNED_IN = {"error": "You must be logged in to view billing information."}
# As deep as json_depth allows: the object around it is one more level.
ALLOWED = 63


def nested(levels: int) -> Any:
    """`levels` arrays, each inside the one before."""
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def deep_cookie(levels: int, encoding: str = "base64") -> str:
    """A session cookie with a valid access token and an extra field `levels` arrays deep."""
    raw = session_json(make_token())[:-1] + ',"x":' + "[" * levels + "]" * levels + "}"
    value = (
        "base64-" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        if encoding == "base64"
        else raw
    )
    return f"{COOKIE}={quote(value, safe='')}"


def portal_router(payments: FakePayments) -> Router:
    """Deps whose profile store knows USER_ID's Stripe customer."""
    return make_router(payments, FakeProfiles(Profile(USER_ID, customer_id="cus_1")))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 65536, id="unclosed-at-the-size-limit"),
        pytest.param(b"[" * 5000 + b"]" * 5000, id="closed-5000"),
        pytest.param(json.dumps({**GOOD, "x": nested(ALLOWED + 1)}).encode(), id="one-past-the-limit"),
    ],
)
def test_deep_body_is_400_not_json_and_the_worker_lives(body: bytes) -> None:
    """Nesting past the limit is refused before parsing, on both endpoints; the next request is served."""
    payments = FakePayments()
    router = portal_router(payments)
    checkout = Edge(router).handle("POST", CHECKOUT, {}, body)
    portal = Edge(router).handle("POST", PORTAL, {"Authorization": f"Bearer {make_token()}"}, body)
    assert [(status, json.loads(data)) for status, _, data in (checkout, portal)] == [(400, NOT_JSON)] * 2
    assert payments.checkouts == [] and payments.portals == []
    assert handle("POST", CHECKOUT, GOOD, router=router)[0] == 200


def test_body_at_the_limit_is_read() -> None:
    """An unknown field nested exactly as deep as allowed is ignored, as any unknown field is."""
    status, _, body = handle("POST", CHECKOUT, {**GOOD, "x": nested(ALLOWED)})
    assert (status, body) == (200, {"url": "https://checkout.stripe.com/c/pay/cs_test_1"})


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Cookie": deep_cookie(ALLOWED + 1)}, id="cookie-one-past-the-limit"),
        pytest.param({"Cookie": deep_cookie(ALLOWED + 1, "raw")}, id="raw-cookie-one-past-the-limit"),
        pytest.param({"Cookie": deep_cookie(5000)}, id="cookie-5000"),
        pytest.param(
            {"Authorization": f"Bearer {make_token(headers={'x': nested(ALLOWED + 1)})}"},
            id="signed-header-one-past-the-limit",
        ),
        pytest.param(
            {"Authorization": f"Bearer {base64.urlsafe_b64encode(b'[' * 12000).decode()}.e30.c2ln"},
            id="header-12000",
        ),
    ],
)
def test_deep_session_is_401_and_the_worker_lives(headers: dict[str, str]) -> None:
    """A session cookie or token header nested past the limit signs no one in, even around a valid token."""
    payments = FakePayments()
    router = portal_router(payments)
    assert handle("POST", PORTAL, RETURN, headers, router)[::2] == (401, NOT_SIGNED_IN)
    assert payments.portals == []
    assert handle("POST", PORTAL, RETURN, {"Cookie": cookie_header(make_token())}, router)[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Cookie": deep_cookie(ALLOWED)}, id="cookie"),
        pytest.param(
            {"Authorization": f"Bearer {make_token(headers={'x': nested(ALLOWED)})}"}, id="signed-header"
        ),
    ],
)
def test_session_at_the_limit_signs_in(headers: dict[str, str]) -> None:
    """A session cookie or token header nested exactly as deep as allowed still signs the user in."""
    payments = FakePayments()
    assert handle("POST", PORTAL, RETURN, headers, portal_router(payments))[0] == 200
    assert payments.portals == [("cus_1", "https://app.example.com/account")]


def recording_edge() -> tuple[Edge, list[Request]]:
    """An Edge whose one route, POST and GET on every path under "/", records the request it is given."""
    seen: list[Request] = []

    def record(request: Request, deps: object) -> Response:
        seen.append(request)
        return Response(200, {"url": "https://checkout.stripe.com/c/pay/cs_test_1"})

    methods = {"POST": route(record, "create-checkout.response.json")}
    router = Router(small().deps, {"/": methods})
    router.add_prefix("/", methods)
    return Edge(router), seen


def test_the_request_is_the_url_decoded_with_its_query_headers_and_client() -> None:
    """An absolute URL's path (percent-escapes decoded) and query, header pairs, and the caller's address."""
    edge, seen = recording_edge()
    status, _, _ = edge.handle(
        "POST", "https://billing.example.com/a%20b?x=1&y=2", [("X-Thing", "1")], b"{}", "203.0.113.9"
    )
    assert status == 200
    (request,) = seen
    assert (request.path, request.query, request.client, request.body) == (
        "/a b",
        "x=1&y=2",
        "203.0.113.9",
        b"{}",
    )
    assert request.header("x-thing") == "1"


def test_a_url_without_a_path_is_the_root_and_no_client_is_empty() -> None:
    """A bare origin asks for "/", as an ASGI server would; an unknown caller is an empty address."""
    edge, seen = recording_edge()
    status, _, _ = edge.handle("POST", "https://billing.example.com", {}, b"")
    assert status == 200
    assert [(request.path, request.query, request.client) for request in seen] == [("/", "", "")]


def test_an_unreadable_url_is_404_not_an_exception() -> None:
    """A URL urlsplit refuses (a broken IPv6 host) names no route."""
    status, headers, body = Edge(small()).handle("POST", "http://[::1/x", {}, b"")
    assert (status, json.loads(body)) == (404, {"error": "Not found"})
    assert dict(headers)["content-type"] == "application/json"
