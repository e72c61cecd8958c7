"""POST /api/webhook/stripe over the Supabase REST store: the exact RPC it sends, and RPC failures as 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import requests
import responses
from responses import matchers

from handlers.adapters.supabase_profiles import SupabaseProfiles
from handlers.asgi import App
from tests.fakes import FakePayments
from tests.stripe_events import event
from tests.test_webhook import ADA, applied, checkout, deliver, expect, make_app

URL = "https://abcd.supabase.co"
ANON = "anon-key-eyJhbGciOiJIUzI1NiJ9.anon"
SERVICE = "service-key-eyJhbGciOiJIUzI1NiJ9.service"
RPC = f"{URL}/rest/v1/rpc/apply_stripe_event"
UNAVAILABLE = {"error": "Billing information is unavailable right now. Please try again."}


@pytest.fixture(name="mocked")
def _mocked() -> Iterator[responses.RequestsMock]:
    """Every HTTP request must match a registered response."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture(name="payments")
def _payments() -> FakePayments:
    return FakePayments()


@pytest.fixture(name="app")
def _app(payments: FakePayments) -> Iterator[App]:
    """The app over the Supabase REST store (1.5 s timeout) and fake payments."""
    app = make_app(SupabaseProfiles(URL, ANON, SERVICE, timeout=1.5), payments)
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
    mocked: responses.RequestsMock, app: App, payments: FakePayments, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed checkout.session.completed is exactly one POST rpc/apply_stripe_event with the service key."""
    caplog.set_level(logging.DEBUG)
    payload = event("checkout.session.completed", checkout("cs_test_rpc"), event_id="evt_rpc_1")
    mocked.post(RPC, json="applied", match=rpc_call("evt_rpc_1"))

    expect(deliver(app, payload), 200, applied())

    assert payments.prices == ["cs_test_rpc"]
    (call,) = mocked.calls
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


def test_a_replay_answers_the_functions_duplicate(mocked: responses.RequestsMock, app: App) -> None:
    """The same event again sends the same RPC; the function's "duplicate" is what the webhook answers."""
    payload = event("checkout.session.completed", checkout(), event_id="evt_rpc_2")
    mocked.post(RPC, json="applied", match=rpc_call("evt_rpc_2"))
    mocked.post(RPC, json="duplicate", match=rpc_call("evt_rpc_2"))

    expect(deliver(app, payload), 200, applied())
    expect(deliver(app, payload), 200, applied("duplicate"))

    assert len(mocked.calls) == 2


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
    mocked: responses.RequestsMock, app: App, caplog: pytest.LogCaptureFixture, failure: dict[str, object]
) -> None:
    """When the RPC fails the webhook answers 500 (so Stripe retries); the retried delivery is applied."""
    caplog.set_level(logging.DEBUG)
    payload = event("checkout.session.completed", checkout(), event_id="evt_rpc_3")
    mocked.post(RPC, match=rpc_call("evt_rpc_3"), **failure)
    mocked.post(RPC, json="applied", match=rpc_call("evt_rpc_3"))

    failed = deliver(app, payload)
    retried = deliver(app, payload)

    expect(failed, 500, UNAVAILABLE)
    expect(retried, 200, applied())
    assert len(mocked.calls) == 2
    assert SERVICE not in caplog.text
