"""handlers.adapters.supabase_profiles: the exact PostgREST requests and RPCs, and failures as StoreError."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from handlers.adapters.supabase_profiles import SupabaseProfiles
from handlers.asgi import App
from handlers.edge import Edge
from handlers.http import Request
from handlers.ports import Profile, ProfileUpdate, StoreError
from tests.helpers.asgi_client import expect
from tests.helpers.fake_fetch import FakeFetch
from tests.helpers.fakes import USER_ID, FakePayments, make_router, make_token
from tests.helpers.stripe_events import ADA, applied, checkout_session, deliver, event, webhook_app

URL = "https://abcd.supabase.co"
ANON = "anon-key-eyJhbGciOiJIUzI1NiJ9.anon"
SERVICE = "service-key-eyJhbGciOiJIUzI1NiJ9.service"
USER_TOKEN = "user-access-token"
PROFILES = f"{URL}/rest/v1/profiles"
RPC = f"{URL}/rest/v1/rpc/apply_stripe_event"
ROW = {
    "id": USER_ID,
    "email": "ada@example.com",
    "customer_id": "cus_123",
    "price_id": "price_456",
    "has_access": True,
}


@pytest.fixture(name="mocked")
def _mocked() -> Iterator[responses.RequestsMock]:
    """Every HTTP request must match a registered response."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(name="store")
def _store() -> SupabaseProfiles:
    """A store with a short timeout, pointed at the mocked project."""
    return SupabaseProfiles(URL, ANON, SERVICE, timeout=1.5)


def read_as_user() -> list[Callable[..., Any]]:
    """Matchers for a read exactly as supabase-js sends it with the user's token."""
    return [
        matchers.query_string_matcher(
            f"select=id%2Cemail%2Ccustomer_id%2Cprice_id%2Chas_access&id=eq.{USER_ID}"
        ),
        matchers.header_matcher(
            {
                "apikey": ANON,
                "Authorization": f"Bearer {USER_TOKEN}",
                "Accept": "application/vnd.pgrst.object+json",
                "Accept-Profile": "public",
            }
        ),
    ]


def test_get_reads_as_the_user(mocked: responses.RequestsMock, store: SupabaseProfiles) -> None:
    """get() sends supabase-js's exact read with the user's token and returns the row as a Profile."""
    mocked.get(PROFILES, json=ROW, match=read_as_user())
    assert store.get(USER_ID, access_token=USER_TOKEN) == Profile(
        USER_ID, "ada@example.com", "cus_123", "price_456", True
    )
    (call,) = mocked.calls
    assert call.request.url == (
        f"{PROFILES}?select=id%2Cemail%2Ccustomer_id%2Cprice_id%2Chas_access&id=eq.{USER_ID}"
    )
    assert call.request.method == "GET"
    assert call.request.req_kwargs["timeout"] == 1.5  # type: ignore[attr-defined]


def test_no_row_is_none(mocked: responses.RequestsMock, store: SupabaseProfiles) -> None:
    """406 with code PGRST116 (no row, or none the user may see) means no profile."""
    body = {"code": "PGRST116", "details": "The result contains 0 rows", "hint": None, "message": "x"}
    mocked.get(PROFILES, status=406, json=body, match=read_as_user())
    assert store.get(USER_ID, access_token=USER_TOKEN) is None


def test_null_columns_read_as_empty(mocked: responses.RequestsMock, store: SupabaseProfiles) -> None:
    """A profile with NULL columns and NULL has_access reads as an empty profile without access."""
    row = dict.fromkeys(ROW) | {"id": USER_ID}
    mocked.get(PROFILES, json=row, match=read_as_user())
    assert store.get(USER_ID, access_token=USER_TOKEN) == Profile(USER_ID)


def test_get_without_a_token_uses_the_service_key(
    mocked: responses.RequestsMock, store: SupabaseProfiles
) -> None:
    """Without a user token the read is made with the service key in apikey and Authorization."""
    mocked.get(
        PROFILES,
        json=ROW,
        match=[matchers.header_matcher({"apikey": SERVICE, "Authorization": f"Bearer {SERVICE}"})],
    )
    assert store.get(USER_ID) is not None


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        pytest.param(406, {"code": "PGRST106"}, "profile read failed: HTTP 406 PGRST106", id="406-other"),
        pytest.param(401, {"code": "PGRST303"}, "profile read failed: HTTP 401 PGRST303", id="expired-jwt"),
        pytest.param(500, {"code": "XX000"}, "profile read failed: HTTP 500 XX000", id="server-error"),
        pytest.param(503, "upstream down", "profile read failed: HTTP 503", id="not-json"),
        pytest.param(200, [ROW], "profile read gave a body that is not a JSON object", id="array"),
        pytest.param(200, {"email": "x"}, "profile read gave a row without an id", id="no-id"),
    ],
)
def test_failed_reads_are_store_errors(
    mocked: responses.RequestsMock, store: SupabaseProfiles, status: int, body: object, message: str
) -> None:
    """Any answer other than a row or PGRST116 is a StoreError naming the status and code only."""
    if isinstance(body, str):
        mocked.get(PROFILES, status=status, body=body)
    else:
        mocked.get(PROFILES, status=status, json=body)
    with pytest.raises(StoreError) as caught:
        store.get(USER_ID, access_token=USER_TOKEN)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("error", "message"),
    [
        pytest.param(requests.ReadTimeout("read timed out"), "profile read timed out", id="read-timeout"),
        pytest.param(requests.ConnectTimeout("connect"), "profile read timed out", id="connect-timeout"),
        pytest.param(
            requests.ConnectionError(f"refused apikey={ANON}"),
            "profile read failed: ConnectionError",
            id="refused",
        ),
    ],
)
def test_transport_failures_are_store_errors(
    mocked: responses.RequestsMock, store: SupabaseProfiles, error: Exception, message: str
) -> None:
    """Timeouts and connection errors become StoreError without the transport's own text."""
    mocked.get(PROFILES, body=error)
    with pytest.raises(StoreError) as caught:
        store.get(USER_ID, access_token=USER_TOKEN)
    assert str(caught.value) == message


def test_apply_calls_the_function_with_the_service_key(
    mocked: responses.RequestsMock, store: SupabaseProfiles
) -> None:
    """apply() posts every field to rpc/apply_stripe_event with the service key and returns its outcome."""
    mocked.post(
        RPC,
        json="applied",
        match=[
            matchers.json_params_matcher(
                {
                    "p_event_id": "evt_1",
                    "p_created": 1_800_000_000,
                    "p_user_id": USER_ID,
                    "p_customer_id": "cus_1",
                    "p_email": "ada@example.com",
                    "p_price_id": None,
                    "p_has_access": True,
                }
            ),
            matchers.header_matcher(
                {
                    "apikey": SERVICE,
                    "Authorization": f"Bearer {SERVICE}",
                    "Content-Type": "application/json",
                    "Content-Profile": "public",
                    "Accept": "application/json",
                }
            ),
        ],
    )
    update = ProfileUpdate(
        "evt_1", 1_800_000_000, user_id=USER_ID, customer_id="cus_1", email="ada@example.com", has_access=True
    )
    assert store.apply(update) == "applied"
    assert mocked.calls[0].request.url == RPC
    assert mocked.calls[0].request.req_kwargs["timeout"] == 1.5  # type: ignore[attr-defined]


@pytest.mark.parametrize("outcome", ["applied", "duplicate", "stale", "unmatched"])
def test_apply_returns_each_outcome(
    mocked: responses.RequestsMock, store: SupabaseProfiles, outcome: str
) -> None:
    """Each outcome the function answers is returned as is."""
    mocked.post(RPC, json=outcome)
    assert store.apply(ProfileUpdate("evt_1", 1)) == outcome


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        pytest.param(404, {"code": "PGRST202"}, "profile update failed: HTTP 404 PGRST202", id="no-function"),
        pytest.param(401, {"code": "42501"}, "profile update failed: HTTP 401 42501", id="not-allowed"),
        pytest.param(200, "done", "profile update gave an unknown outcome", id="unknown-outcome"),
    ],
)
def test_failed_applies_are_store_errors(
    mocked: responses.RequestsMock, store: SupabaseProfiles, status: int, body: object, message: str
) -> None:
    """A missing function, a refused key or an unknown answer is a StoreError."""
    mocked.post(RPC, status=status, json=body)
    with pytest.raises(StoreError) as caught:
        store.apply(ProfileUpdate("evt_1", 1))
    assert str(caught.value) == message


def test_ping_reads_one_id_with_the_service_key(
    mocked: responses.RequestsMock, store: SupabaseProfiles
) -> None:
    """ping() asks for one id with the service key; a 200 is healthy."""
    mocked.get(
        PROFILES,
        json=[],
        match=[
            matchers.query_param_matcher({"select": "id", "limit": "1"}),
            matchers.header_matcher({"apikey": SERVICE, "Authorization": f"Bearer {SERVICE}"}),
        ],
    )
    store.ping()


def test_ping_failure_is_a_store_error(mocked: responses.RequestsMock, store: SupabaseProfiles) -> None:
    """ping() raises StoreError naming the status and PostgREST's code when it does not answer 200."""
    mocked.get(PROFILES, status=503, json={"code": "PGRST002", "message": "Could not query the schema cache"})
    with pytest.raises(StoreError) as caught:
        store.ping()
    assert str(caught.value) == "profile ping failed: HTTP 503 PGRST002"


def test_a_store_failure_is_a_500_without_keys_in_body_or_logs(
    mocked: responses.RequestsMock, store: SupabaseProfiles, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the portal, a failing read answers the documented 500; no key reaches the body or logs."""
    caplog.set_level(logging.DEBUG)
    mocked.get(PROFILES, body=requests.ConnectionError(f"apikey {ANON} Bearer {SERVICE}"))
    router = make_router(profiles=store)
    token = make_token()
    request = Request(
        "POST",
        "/api/stripe/create-portal",
        headers=(("authorization", f"Bearer {token}"), ("content-type", "application/json")),
        body=json.dumps({"returnUrl": "https://app.example.com/account"}).encode(),
    )
    response = router.dispatch(request)
    assert (response.status, response.body) == (
        500,
        {"error": "Billing information is unavailable right now. Please try again."},
    )
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {token}"
    text = json.dumps(response.body) + caplog.text
    for secret in (ANON, SERVICE, token):
        assert secret not in text


# --- POST /api/webhook/stripe over this store: the exact RPC, and RPC failures as 500 ---------------

UNAVAILABLE_BODY = {"error": "Billing information is unavailable right now. Please try again."}


@pytest.fixture(name="rpc_mock")
def _rpc_mock() -> Iterator[responses.RequestsMock]:
    """Every HTTP request must match a registered response, and every registered one must be sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture(name="payments")
def _payments() -> FakePayments:
    return FakePayments()


@pytest.fixture(name="app")
def _app(payments: FakePayments) -> Iterator[App]:
    """The app over the Supabase REST store (1.5 s timeout) and fake payments."""
    app = webhook_app(SupabaseProfiles(URL, ANON, SERVICE, timeout=1.5), payments)
    yield app
    app.executor.shutdown()


def rpc_call(event_id: str) -> list[object]:
    """Matchers for the RPC a completed checkout for ADA at t=1_700_000_000 must send, and nothing else."""
    return [
        matchers.json_params_matcher(
            {
                "p_event_id": event_id,
                "p_created": 1_700_000_000,
                "p_user_id": ADA,
                "p_customer_id": "cus_1",
                "p_email": "ada@example.com",
                "p_price_id": "price_from_line_items",
                "p_has_access": True,
            }
        ),
        matchers.header_matcher(
            {
                "apikey": SERVICE,
                "Authorization": f"Bearer {SERVICE}",
                "Content-Type": "application/json",
                "Content-Profile": "public",
                "Accept": "application/json",
            }
        ),
    ]


def test_checkout_completed_is_one_rpc_with_the_service_key(
    rpc_mock: responses.RequestsMock, app: App, payments: FakePayments, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed checkout.session.completed is exactly one POST rpc/apply_stripe_event with the service key."""
    caplog.set_level(logging.DEBUG)
    payload = event("checkout.session.completed", checkout_session("cs_test_rpc", ADA), event_id="evt_rpc_1")
    rpc_mock.post(RPC, json="applied", match=rpc_call("evt_rpc_1"))

    expect(deliver(app, payload), 200, applied())

    assert payments.prices == ["cs_test_rpc"]
    (call,) = rpc_mock.calls
    assert (call.request.method, call.request.url) == ("POST", RPC)
    assert call.request.req_kwargs["timeout"] == 1.5  # type: ignore[attr-defined]
    assert json.loads(call.request.body or b"") == {
        "p_event_id": "evt_rpc_1",
        "p_created": 1_700_000_000,
        "p_user_id": ADA,
        "p_customer_id": "cus_1",
        "p_email": "ada@example.com",
        "p_price_id": "price_from_line_items",
        "p_has_access": True,
    }
    assert ANON not in str(call.request.headers)
    assert SERVICE not in caplog.text


def test_a_replay_answers_the_functions_duplicate(rpc_mock: responses.RequestsMock, app: App) -> None:
    """The same event again sends the same RPC; the function's "duplicate" is what the webhook answers."""
    payload = event("checkout.session.completed", checkout_session("cs_test_1", ADA), event_id="evt_rpc_2")
    rpc_mock.post(RPC, json="applied", match=rpc_call("evt_rpc_2"))
    rpc_mock.post(RPC, json="duplicate", match=rpc_call("evt_rpc_2"))

    expect(deliver(app, payload), 200, applied())
    expect(deliver(app, payload), 200, applied("duplicate"))

    assert len(rpc_mock.calls) == 2


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"status": 500, "json": {"code": "XX000", "message": "boom"}}, id="http-500"),
        pytest.param({"status": 503, "body": "upstream connect error"}, id="http-503-not-json"),
        pytest.param({"status": 401, "json": {"code": "42501"}}, id="service-key-refused"),
        pytest.param({"status": 404, "json": {"code": "PGRST202"}}, id="function-missing"),
        pytest.param({"json": "done"}, id="unknown-outcome"),
        pytest.param({"body": requests.ReadTimeout("read timed out")}, id="timeout"),
        pytest.param({"body": requests.ConnectionError(f"refused apikey={SERVICE}")}, id="refused"),
    ],
)
def test_an_rpc_failure_is_500_and_the_redelivery_is_applied(
    rpc_mock: responses.RequestsMock, app: App, caplog: pytest.LogCaptureFixture, failure: dict[str, object]
) -> None:
    """When the RPC fails the webhook answers 500 (so Stripe retries); the retried delivery is applied."""
    caplog.set_level(logging.DEBUG)
    payload = event("checkout.session.completed", checkout_session("cs_test_1", ADA), event_id="evt_rpc_3")
    rpc_mock.post(RPC, match=rpc_call("evt_rpc_3"), **failure)
    rpc_mock.post(RPC, json="applied", match=rpc_call("evt_rpc_3"))

    failed = deliver(app, payload)
    retried = deliver(app, payload)

    expect(failed, 500, UNAVAILABLE_BODY)
    expect(retried, 200, applied())
    assert len(rpc_mock.calls) == 2
    assert SERVICE not in caplog.text


class EdgeFailure(Exception):
    """An exception class no HTTP library knows, as a host runtime's transport may raise."""


# What a transport can raise that is not a requests exception: urllib3's emscripten backend inside an
# edge worker without XMLHttpRequest, a JavaScript error crossing into Python, a host's own class.
FOREIGN_FAILURES = [
    pytest.param(AttributeError("XMLHttpRequest"), "AttributeError", id="no-xmlhttprequest"),
    pytest.param(TypeError(f"fetch failed apikey={ANON}"), "TypeError", id="type-error"),
    pytest.param(EdgeFailure(f"Bearer {SERVICE}"), "EdgeFailure", id="host-class"),
]


@pytest.mark.parametrize(("error", "name"), FOREIGN_FAILURES)
def test_any_transport_exception_is_a_store_error(
    mocked: responses.RequestsMock, store: SupabaseProfiles, error: Exception, name: str
) -> None:
    """get, apply and ping turn a transport exception of any class into StoreError, naming only its type."""
    mocked.get(PROFILES, body=error)
    mocked.post(RPC, body=error)
    calls: list[Callable[[], object]] = [
        lambda: store.get(USER_ID, access_token=USER_TOKEN),
        lambda: store.apply(ProfileUpdate("evt_1", 1)),
        store.ping,
    ]
    messages = []
    for call in calls:
        with pytest.raises(StoreError) as caught:
            call()
        messages.append(str(caught.value))
        assert caught.value.__cause__ is error
    assert messages == [
        f"profile read failed: {name}",
        f"profile update failed: {name}",
        f"profile ping failed: {name}",
    ]


def test_a_foreign_transport_exception_is_healthz_503_and_the_portals_500(
    mocked: responses.RequestsMock, store: SupabaseProfiles, caplog: pytest.LogCaptureFixture
) -> None:
    """AttributeError("XMLHttpRequest") from the transport: /healthz 503 unavailable, the portal's 500."""
    caplog.set_level(logging.DEBUG)
    mocked.get(PROFILES, body=AttributeError(f"XMLHttpRequest apikey={SERVICE}"))
    edge = Edge(make_router(profiles=store))

    health = edge.handle("GET", "/healthz", {}, b"")
    portal = edge.handle(
        "POST",
        "/api/stripe/create-portal",
        {"Authorization": f"Bearer {make_token()}", "Content-Type": "application/json"},
        json.dumps({"returnUrl": "https://app.example.com/account"}).encode(),
    )

    assert (health[0], json.loads(health[2])) == (503, {"status": "unavailable", "profiles": "unavailable"})
    assert (portal[0], json.loads(portal[2])) == (
        500,
        {"error": "Billing information is unavailable right now. Please try again."},
    )
    assert len(mocked.calls) == 2
    assert SERVICE not in caplog.text


def test_forget_customer_is_one_filtered_patch_with_the_service_key(
    mocked: responses.RequestsMock, store: SupabaseProfiles
) -> None:
    """supabase-js's `.update({customer_id: null}).eq("id", ...).eq("customer_id", ...)` with the service key:
    the filter on the old customer keeps a webhook's newer one."""
    mocked.patch(
        PROFILES,
        status=204,
        match=[
            matchers.query_string_matcher(f"id=eq.{USER_ID}&customer_id=eq.cus_gone"),
            matchers.json_params_matcher({"customer_id": None}),
            matchers.header_matcher(
                {
                    "apikey": SERVICE,
                    "Authorization": f"Bearer {SERVICE}",
                    "Content-Type": "application/json",
                    "Content-Profile": "public",
                }
            ),
        ],
    )

    store.forget_customer(USER_ID, "cus_gone")

    (call,) = mocked.calls
    assert call.request.url == f"{PROFILES}?id=eq.{USER_ID}&customer_id=eq.cus_gone"
    assert call.request.method == "PATCH"
    assert "Prefer" not in call.request.headers
    assert call.request.req_kwargs["timeout"] == 1.5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            {"status": 401, "json": {"code": "42501"}}, "profile update failed: HTTP 401 42501", id="refused"
        ),
        pytest.param(
            {"status": 400, "json": {"code": "22P02"}}, "profile update failed: HTTP 400 22P02", id="bad-id"
        ),
        pytest.param({"status": 503, "body": "down"}, "profile update failed: HTTP 503", id="not-json"),
        pytest.param({"body": requests.ReadTimeout("slow")}, "profile update timed out", id="timeout"),
    ],
)
def test_a_failed_forget_is_a_store_error(
    mocked: responses.RequestsMock, store: SupabaseProfiles, answer: dict[str, Any], message: str
) -> None:
    """Anything but 204 (or a 200) is a StoreError naming the status and code only."""
    mocked.patch(PROFILES, **answer)
    with pytest.raises(StoreError) as caught:
        store.forget_customer(USER_ID, "cus_gone")
    assert str(caught.value) == message


def test_ping_waits_at_most_a_second_and_a_half() -> None:
    """A health probe's call has its own short timeout, so /healthz answers within 2 s; reads keep theirs."""
    fetch = FakeFetch((200, []), (406, {"code": "PGRST116"}))
    store = SupabaseProfiles("https://abcd.supabase.co", "anon", "service", timeout=5.0, fetch=fetch)

    store.ping()
    store.get(USER_ID, access_token=USER_TOKEN)

    assert [sent.timeout for sent in fetch.sent] == [1.5, 5.0]


@pytest.mark.parametrize(
    ("url", "rest"),
    [
        pytest.param("https://abcd.supabase.co/", "https://abcd.supabase.co/rest/v1", id="trailing-slash"),
        pytest.param(
            "https://gateway.example.com/projectX//",
            "https://gateway.example.com/projectX/rest/v1",
            id="path",
        ),
    ],
)
def test_the_rest_api_is_under_the_project_url_without_its_trailing_slashes(url: str, rest: str) -> None:
    """SUPABASE_URL as the dashboard shows it, with or without a slash, or behind a gateway's path."""
    fetch = FakeFetch((200, {"id": USER_ID}))
    SupabaseProfiles(url, ANON, SERVICE, fetch=fetch).get(USER_ID, "token")
    (sent,) = fetch.sent
    assert sent.url.split("?")[0] == f"{rest}/profiles"


def test_forget_customer_through_fetch_is_an_upper_case_patch_and_a_200_is_success() -> None:
    """fetch sends a method as given but for six names, and PATCH is not one: it must be upper-case."""
    fetch = FakeFetch((200, []))
    SupabaseProfiles(URL, ANON, SERVICE, fetch=fetch).forget_customer(USER_ID, "cus_gone")
    assert [(sent.method, sent.timeout) for sent in fetch.sent] == [("PATCH", 5.0)]


def test_columns_of_another_type_read_as_empty() -> None:
    """A column PostgREST returns as something other than text (a changed schema) is read as no value."""
    row = {"id": USER_ID, "email": 7, "customer_id": ["cus_1"], "price_id": {"p": 1}, "has_access": True}
    fetch = FakeFetch((200, row))
    profile = SupabaseProfiles(URL, ANON, SERVICE, fetch=fetch).get(USER_ID, "token")
    assert profile == Profile(USER_ID, None, None, None, True)
