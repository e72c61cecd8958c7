"""handlers.adapters.fetch_http: the real stripe SDK sending through a fake `fetch`, no sockets."""

from __future__ import annotations

import json
import sys

import pytest

from handlers.adapters.fetch import runtime_fetch
from handlers.adapters.stripe_payments import FAILED, UNAVAILABLE, StripePayments
from handlers.checkout import checkout_params
from handlers.ports import PaymentsError
from tests.helpers.fake_fetch import FakeFetch, stripe_error

SECRET_KEY = "sk_test_51FetchKeyThatMustNeverBeShown0123456789"
SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_fetch"
PORTAL_URL = "https://billing.stripe.com/p/session/test_fetch"
SESSION = {"id": "cs_test_fetch", "object": "checkout.session", "url": SESSION_URL}
PORTAL = {"id": "bps_fetch", "object": "billing_portal.session", "url": PORTAL_URL}
BODY = {
    "priceId": "price_1",
    "successUrl": "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}",
    "cancelUrl": "https://app.example.com/no",
    "mode": "subscription",
}


def payments(fetch: FakeFetch, **options: object) -> StripePayments:
    """The adapter under test over `fetch`, retrying nothing unless told to."""
    return StripePayments(SECRET_KEY, fetch=fetch, **({"max_retries": 0} | options))  # type: ignore[arg-type]


def test_checkout_goes_through_fetch_with_exact_form_and_headers() -> None:
    """POST /v1/checkout/sessions reaches fetch with the exact form, Bearer key, idempotency key, timeout."""
    fetch = FakeFetch((200, SESSION))

    url = payments(fetch, timeout=4.5).create_checkout_session(
        checkout_params(BODY, None, None), "checkout-key-1"
    )

    assert url == SESSION_URL
    [sent] = fetch.sent
    assert (sent.method, sent.url, sent.timeout) == (
        "POST",
        "https://api.stripe.com/v1/checkout/sessions",
        4.5,
    )
    assert sent.form() == {
        "mode": "subscription",
        "line_items[0][price]": "price_1",
        "line_items[0][quantity]": "1",
        "success_url": "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example.com/no",
        "allow_promotion_codes": "true",
    }
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["Idempotency-Key"] == "checkout-key-1"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_portal_goes_through_fetch_to_the_api_base() -> None:
    """POST /v1/billing_portal/sessions carries exactly customer and return_url, to the configured base (a
    gateway's path kept, its trailing slash not)."""
    fetch = FakeFetch((200, PORTAL))

    url = payments(fetch, api_base="http://127.0.0.1:12111/STRIPE-BOX/").create_portal_session(
        "cus_1", "https://app.example.com/account"
    )

    assert url == PORTAL_URL
    [sent] = fetch.sent
    assert sent.url == "http://127.0.0.1:12111/STRIPE-BOX/v1/billing_portal/sessions"  # only the slash goes
    assert sent.form() == {"customer": "cus_1", "return_url": "https://app.example.com/account"}


def test_invalid_request_gives_stripes_message() -> None:
    """A 400 from Stripe becomes PaymentsError with Stripe's own message."""
    fetch = FakeFetch((400, stripe_error("invalid_request_error", "No such price: 'price_1'")))

    with pytest.raises(PaymentsError) as caught:
        payments(fetch).create_checkout_session(checkout_params(BODY, None, None), "k")

    assert caught.value.message == "No such price: 'price_1'"


@pytest.mark.parametrize(
    ("status", "payload", "message"),
    [
        pytest.param(500, stripe_error("api_error", "Something went wrong."), UNAVAILABLE, id="stripe-500"),
        pytest.param(502, b"<html>Bad Gateway</html>", UNAVAILABLE, id="non-json-502"),
        pytest.param(401, stripe_error("authentication_error", "Invalid API Key"), FAILED, id="auth-401"),
    ],
)
def test_stripe_failures_are_translated(status: int, payload: object, message: str) -> None:
    """Stripe 5xx and non-JSON answers are UNAVAILABLE; a 401 is the generic FAILED."""
    fetch = FakeFetch((status, payload))

    with pytest.raises(PaymentsError) as caught:
        payments(fetch).create_portal_session("cus_1", "https://app.example.com/account")

    assert caught.value.message == message


def test_fetch_failure_is_unavailable_and_hides_its_text() -> None:
    """fetch raising (the runtime's network error or timeout) is UNAVAILABLE; its text is not repeated."""
    fetch = FakeFetch()
    fetch.fail = TimeoutError(f"aborted: Authorization: Bearer {SECRET_KEY}")

    with pytest.raises(PaymentsError) as caught:
        payments(fetch).create_checkout_session(checkout_params(BODY, None, None), "k")

    assert caught.value.message == UNAVAILABLE
    assert str(caught.value.__cause__) == "Unexpected error communicating with Stripe. (TimeoutError)"
    assert len(fetch.sent) == 1


def test_a_get_goes_without_a_body_and_names_the_client() -> None:
    """checkout_price is a GET with no body; Stripe is told the HTTP library is `fetch`."""
    fetch = FakeFetch((200, {"object": "list", "data": [{"id": "li_1", "price": {"id": "price_9"}}]}))

    assert payments(fetch).checkout_price("cs_test_1") == "price_9"

    [sent] = fetch.sent
    assert (sent.method, sent.url, sent.body) == (
        "GET",
        "https://api.stripe.com/v1/checkout/sessions/cs_test_1/line_items?limit=1",
        None,
    )
    assert json.loads(sent.headers["X-Stripe-Client-User-Agent"])["httplib"] == "fetch"


def test_the_answers_headers_reach_the_sdk_whatever_their_case(caplog: pytest.LogCaptureFixture) -> None:
    """The request id of a failed call, from a `Request-Id` header, is in the warning."""
    fetch = FakeFetch((500, stripe_error("api_error", "Something went wrong.")))

    with pytest.raises(PaymentsError):
        payments(fetch).create_portal_session("cus_1", "https://app.example.com/account")

    assert "stripe call failed: APIError status=500 code=None request_id=req_fake_1" in caplog.messages


def test_an_answer_that_is_not_utf8_is_unavailable_not_a_crash() -> None:
    """Bytes that are not UTF-8 (a proxy's error page) are read with replacements: a non-JSON answer."""
    fetch = FakeFetch((502, b"\xff\xfe Bad Gateway"))

    with pytest.raises(PaymentsError) as caught:
        payments(fetch).create_portal_session("cus_1", "https://app.example.com/account")

    assert caught.value.message == UNAVAILABLE


def test_connection_failures_are_retried_when_asked() -> None:
    """With max_retries=1 a failed fetch is tried once more, with the same idempotency key."""
    import stripe

    fetch = FakeFetch((200, SESSION))
    calls = {"n": 0}
    inner = fetch.__call__

    def flaky(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("reset")
        return inner(*args)  # type: ignore[arg-type]

    old = stripe.HTTPClient.INITIAL_DELAY, stripe.HTTPClient.MAX_DELAY
    stripe.HTTPClient.INITIAL_DELAY = stripe.HTTPClient.MAX_DELAY = 0
    try:
        url = StripePayments(SECRET_KEY, max_retries=1, fetch=flaky).create_checkout_session(  # type: ignore[arg-type]
            checkout_params(BODY, None, None), "key-9"
        )
    finally:
        stripe.HTTPClient.INITIAL_DELAY, stripe.HTTPClient.MAX_DELAY = old

    assert url == SESSION_URL
    assert calls["n"] == 2
    assert fetch.sent[0].headers["Idempotency-Key"] == "key-9"


# A stand-in for the runtime's fetch, in JavaScript: records each call and answers like Stripe.
JS_FETCH = """
(() => {
  const sent = [];
  const fetch = async (url, init) => {
    sent.push({url, method: init.method, headers: init.headers, signal: init.signal instanceof AbortSignal,
               body: new TextDecoder().decode(init.body)});
    const session = {id: "cs_js", object: "checkout.session", url: "https://checkout.stripe.com/js"};
    return {status: 200, headers: new Headers({"Content-Type": "application/json", "Request-Id": "req_js"}),
            arrayBuffer: async () => new TextEncoder().encode(JSON.stringify(session)).buffer};
  };
  return {fetch, sent: () => JSON.stringify(sent)};
})()
"""


@pytest.mark.skipif(sys.platform != "emscripten", reason="needs Pyodide's JavaScript bridge and JSPI")
def test_runtime_fetch_sends_through_javascript_fetch() -> None:
    """runtime_fetch hands the request to a JavaScript fetch with a timeout signal, and reads the answer."""
    from pyodide.code import run_js  # type: ignore[import-not-found]

    fake = run_js(JS_FETCH)
    url = StripePayments(SECRET_KEY, max_retries=0, fetch=runtime_fetch(fake.fetch)).create_checkout_session(
        checkout_params(BODY, None, None), "key-js"
    )

    assert url == "https://checkout.stripe.com/js"
    [sent] = json.loads(fake.sent())
    assert (sent["url"], sent["method"], sent["signal"]) == (
        "https://api.stripe.com/v1/checkout/sessions",
        "POST",
        True,
    )
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent["headers"]["Idempotency-Key"] == "key-js"
    assert sent["body"] == (
        "mode=subscription&line_items[0][price]=price_1&line_items[0][quantity]=1"
        "&success_url=https%3A%2F%2Fapp.example.com%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D"
        "&cancel_url=https%3A%2F%2Fapp.example.com%2Fno&allow_promotion_codes=true"
    )
