"""handlers.adapters.stripe_payments through the real stripe SDK, with HTTP intercepted by `responses`."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
import stripe
from responses import matchers
from responses.registries import OrderedRegistry

from handlers.adapters.stripe_payments import FAILED, UNAVAILABLE, StripePayments
from handlers.checkout import checkout_params
from handlers.http import Request
from handlers.ports import PaymentsError, PortalNotConfigured, Profile, UnknownCustomer, User
from tests.helpers.fakes import USER_ID, FakeProfiles, make_router, make_token

SECRET_KEY = "sk_test_51SecretKeyThatMustNeverBeShown0123456789"
CHECKOUT_URL = "https://api.stripe.com/v1/checkout/sessions"
PORTAL_URL = "https://api.stripe.com/v1/billing_portal/sessions"
SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"
PORTAL_SESSION_URL = "https://billing.stripe.com/p/session/test_YWNjdF8x"
SESSION = {"id": "cs_test_a1b2c3", "object": "checkout.session", "status": "open", "url": SESSION_URL}
PORTAL_SESSION = {"id": "bps_1", "object": "billing_portal.session", "url": PORTAL_SESSION_URL}
KEY = "checkout-5f2b9c0e"
ADA = User("user_1", "ada@example.com")
SUCCESS = "https://app.example.com/success"
CANCEL = "https://app.example.com/cancel"


def body(mode: str, success_url: str = SUCCESS) -> dict[str, Any]:
    """A valid create-checkout request body."""
    return {"priceId": "price_1", "successUrl": success_url, "cancelUrl": CANCEL, "mode": mode}


def payments(max_retries: int = 0, **options: Any) -> StripePayments:
    """The adapter under test, with the test key."""
    return StripePayments(SECRET_KEY, max_retries=max_retries, **({"retry_delay": 0.0} | options))


def sent_form(call: Any) -> str:
    """The raw form body of a recorded call."""
    raw = call.request.body
    return raw.decode() if isinstance(raw, bytes) else str(raw)


@pytest.fixture(name="mocked")
def _mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture(name="no_backoff")
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0)


COMMON = {
    "line_items[0][price]": "price_1",
    "line_items[0][quantity]": "1",
    "success_url": SUCCESS,
    "cancel_url": CANCEL,
    "allow_promotion_codes": "true",
}

PARAM_CASES = [
    pytest.param(
        body("payment"),
        None,
        None,
        {"mode": "payment", **COMMON, "customer_creation": "always"},
        id="payment-anonymous",
    ),
    pytest.param(
        body("payment"),
        ADA,
        None,
        {
            "mode": "payment",
            **COMMON,
            "client_reference_id": "user_1",
            "customer_email": "ada@example.com",
            "customer_creation": "always",
        },
        id="payment-signed-in-without-customer",
    ),
    pytest.param(
        body("payment"),
        User("user_2"),
        None,
        {"mode": "payment", **COMMON, "client_reference_id": "user_2", "customer_creation": "always"},
        id="payment-signed-in-without-email",
    ),
    pytest.param(
        body("payment"),
        ADA,
        "cus_1",
        {"mode": "payment", **COMMON, "client_reference_id": "user_1", "customer": "cus_1"},
        id="payment-known-customer",
    ),
    pytest.param(
        body("subscription"),
        None,
        None,
        {"mode": "subscription", **COMMON},
        id="subscription-anonymous",
    ),
    pytest.param(
        body("subscription"),
        ADA,
        None,
        {
            "mode": "subscription",
            **COMMON,
            "client_reference_id": "user_1",
            "customer_email": "ada@example.com",
        },
        id="subscription-signed-in-without-customer",
    ),
    pytest.param(
        body("subscription"),
        ADA,
        "cus_1",
        {"mode": "subscription", **COMMON, "client_reference_id": "user_1", "customer": "cus_1"},
        id="subscription-known-customer",
    ),
    pytest.param(
        body("payment", "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}"),
        None,
        None,
        {
            "mode": "payment",
            **COMMON,
            "success_url": "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}",
            "customer_creation": "always",
        },
        id="success-url-template-arrives-as-literal-braces",
    ),
]


@pytest.mark.parametrize(("request_body", "user", "customer_id", "expected"), PARAM_CASES)
def test_checkout_sends_exactly_these_form_params(
    mocked: responses.RequestsMock,
    request_body: dict[str, Any],
    user: User | None,
    customer_id: str | None,
    expected: dict[str, str],
) -> None:
    """checkout_params' dict reaches POST /v1/checkout/sessions as exactly these decoded form fields."""
    mocked.post(CHECKOUT_URL, json=SESSION, match=[matchers.urlencoded_params_matcher(expected)])

    url = payments().create_checkout_session(checkout_params(request_body, user, customer_id), KEY)

    assert url == SESSION_URL
    assert len(mocked.calls) == 1


def test_checkout_sends_the_given_idempotency_key_and_the_bearer_key(mocked: responses.RequestsMock) -> None:
    """The Idempotency-Key header is the key passed in; Authorization is Bearer <secret key>."""
    mocked.post(CHECKOUT_URL, json=SESSION)

    payments().create_checkout_session(checkout_params(body("payment"), None, None), KEY)

    headers = mocked.calls[0].request.headers
    assert headers["Idempotency-Key"] == KEY
    assert headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_template_braces_are_encoded_once_on_the_wire(mocked: responses.RequestsMock) -> None:
    """The form encodes `{CHECKOUT_SESSION_ID}` exactly once, so Stripe decodes literal braces."""
    mocked.post(CHECKOUT_URL, json=SESSION)
    success = "https://app.example.com/s?id={CHECKOUT_SESSION_ID}"

    payments().create_checkout_session(checkout_params(body("payment", success), None, None), KEY)

    fields = sent_form(mocked.calls[0]).split("&")
    assert "success_url=https%3A%2F%2Fapp.example.com%2Fs%3Fid%3D%7BCHECKOUT_SESSION_ID%7D" in fields


def test_portal_sends_exactly_customer_and_return_url(mocked: responses.RequestsMock) -> None:
    """POST /v1/billing_portal/sessions carries only customer and return_url, with the Bearer key."""
    mocked.post(
        PORTAL_URL,
        json=PORTAL_SESSION,
        match=[
            matchers.urlencoded_params_matcher(
                {"customer": "cus_1", "return_url": "https://app.example.com/account"}
            )
        ],
    )

    url = payments().create_portal_session("cus_1", "https://app.example.com/account")

    assert url == PORTAL_SESSION_URL
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {SECRET_KEY}"


def test_api_base_and_timeout_reach_the_http_call(mocked: responses.RequestsMock) -> None:
    """api_base replaces https://api.stripe.com (a trailing slash ignored) and timeout reaches requests."""
    mocked.post("http://127.0.0.1:12111/v1/billing_portal/sessions", json=PORTAL_SESSION)

    payments(api_base="http://127.0.0.1:12111/", timeout=3.5).create_portal_session("cus_1", SUCCESS)

    # The whole call's budget: what is left of it when the attempt starts.
    assert 3.4 < mocked.calls[0].request.req_kwargs["timeout"] <= 3.5  # type: ignore[attr-defined]


Operation = Callable[[StripePayments], str]
OPERATIONS = [
    pytest.param(
        CHECKOUT_URL,
        lambda p: p.create_checkout_session(checkout_params(body("payment"), None, None), KEY),
        id="checkout",
    ),
    pytest.param(PORTAL_URL, lambda p: p.create_portal_session("cus_1", SUCCESS), id="portal"),
]


def stripe_error(kind: str, message: str | None = None, **fields: str) -> dict[str, Any]:
    """Stripe's error JSON."""
    error: dict[str, Any] = {"type": kind, **fields}
    if message is not None:
        error["message"] = message
    return {"error": error}


@pytest.mark.parametrize(("url", "operation"), OPERATIONS)
@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        pytest.param(
            400,
            stripe_error(
                "invalid_request_error",
                "No such price: 'price_nope'",
                code="resource_missing",
                param="line_items[0][price]",
            ),
            "No such price: 'price_nope'",
            id="400-stripe-message",
        ),
        pytest.param(
            404,
            stripe_error("invalid_request_error", "No such customer: 'cus_nope'", code="resource_missing"),
            "No such customer: 'cus_nope'",
            id="404-stripe-message",
        ),
        pytest.param(400, stripe_error("invalid_request_error"), FAILED, id="400-without-message-generic"),
        pytest.param(
            400,
            stripe_error("idempotency_error", "Keys for idempotent requests can only be used with ..."),
            FAILED,
            id="400-idempotency-error-generic",
        ),
        pytest.param(402, stripe_error("card_error", "Your card was declined."), FAILED, id="402-generic"),
        pytest.param(
            403,
            stripe_error("invalid_request_error", "The provided key 'rk_test_***' does not have access"),
            FAILED,
            id="403-generic",
        ),
        pytest.param(
            429,
            stripe_error(
                "invalid_request_error", "Too many requests hit the API too quickly.", code="rate_limit"
            ),
            UNAVAILABLE,
            id="429-unavailable",
        ),
        pytest.param(
            500, stripe_error("api_error", "Something went wrong."), UNAVAILABLE, id="500-unavailable"
        ),
        pytest.param(
            503, stripe_error("api_error", "Service unavailable."), UNAVAILABLE, id="503-unavailable"
        ),
    ],
)
def test_stripe_errors_are_translated(
    mocked: responses.RequestsMock,
    url: str,
    operation: Operation,
    status: int,
    payload: dict[str, Any],
    expected: str,
) -> None:
    """Each Stripe error status becomes a PaymentsError with Stripe's safe message or a generic one."""
    mocked.post(url, status=status, json=payload, headers={"request-id": "req_123"})

    with pytest.raises(PaymentsError) as caught:
        operation(payments())

    assert caught.value.message == expected
    assert str(caught.value) == expected


@pytest.mark.parametrize(("url", "operation"), OPERATIONS)
@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(requests.ConnectionError("connection refused"), id="connection-refused"),
        pytest.param(requests.ReadTimeout("read timed out"), id="read-timeout"),
        pytest.param("<html>502 Bad Gateway</html>", id="non-json-502"),
    ],
)
def test_transport_failures_are_unavailable(
    mocked: responses.RequestsMock, url: str, operation: Operation, failure: Exception | str
) -> None:
    """Connection errors, timeouts and a proxy's non-JSON 502 all become the UNAVAILABLE message."""
    if isinstance(failure, str):
        mocked.post(url, status=502, body=failure, content_type="text/html")
    else:
        mocked.post(url, body=failure)

    with pytest.raises(PaymentsError) as caught:
        operation(payments())

    assert caught.value.message == UNAVAILABLE


def test_authentication_failure_is_generic_and_the_key_is_never_shown(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 gives the generic FAILED message; the secret key is in neither the error nor any log record."""
    caplog.set_level(logging.DEBUG)
    masked = f"Invalid API Key provided: sk_test_{'*' * 24}{SECRET_KEY[-4:]}"
    mocked.post(
        CHECKOUT_URL,
        status=401,
        json=stripe_error("authentication_error", masked),
        headers={"request-id": "req_401"},
    )

    with pytest.raises(PaymentsError) as caught:
        payments().create_checkout_session(checkout_params(body("payment"), None, None), KEY)

    assert caught.value.message == FAILED
    assert SECRET_KEY not in repr(caught.value)
    assert [r.getMessage() for r in caplog.records if r.name == "handlers.stripe"] == [
        "stripe call failed: AuthenticationError status=401 code=None request_id=req_401"
    ]
    for record in caplog.records:
        assert SECRET_KEY not in record.getMessage()
    assert SECRET_KEY not in caplog.text


@pytest.mark.usefixtures("no_backoff")
def test_a_retried_500_succeeds_with_the_same_idempotency_key(mocked: responses.RequestsMock) -> None:
    """With max_retries=2 a 500 then a 200 succeeds, and both attempts carry the caller's key."""
    mocked.post(CHECKOUT_URL, status=500, json=stripe_error("api_error", "Something went wrong."))
    mocked.post(CHECKOUT_URL, json=SESSION)

    url = payments(max_retries=2).create_checkout_session(checkout_params(body("payment"), None, None), KEY)

    assert url == SESSION_URL
    assert [call.request.headers["Idempotency-Key"] for call in mocked.calls] == [KEY, KEY]


@pytest.mark.usefixtures("no_backoff")
def test_a_retried_connection_error_succeeds_with_the_same_idempotency_key(
    mocked: responses.RequestsMock,
) -> None:
    """A connection error is retried too, with the same key and the same form body."""
    mocked.post(CHECKOUT_URL, body=requests.ConnectionError("reset by peer"))
    mocked.post(CHECKOUT_URL, json=SESSION)

    url = payments(max_retries=2).create_checkout_session(checkout_params(body("payment"), None, None), KEY)

    assert url == SESSION_URL
    assert [call.request.headers["Idempotency-Key"] for call in mocked.calls] == [KEY, KEY]
    assert sent_form(mocked.calls[0]) == sent_form(mocked.calls[1])


@pytest.mark.usefixtures("no_backoff")
def test_retries_are_bounded_by_max_retries(mocked: responses.RequestsMock) -> None:
    """max_retries=2 makes exactly three attempts before answering UNAVAILABLE."""
    for _ in range(3):
        mocked.post(CHECKOUT_URL, status=503, json=stripe_error("api_error", "Service unavailable."))

    with pytest.raises(PaymentsError) as caught:
        payments(max_retries=2).create_checkout_session(checkout_params(body("payment"), None, None), KEY)

    assert caught.value.message == UNAVAILABLE
    assert len(mocked.calls) == 3


@pytest.mark.usefixtures("no_backoff")
def test_an_invalid_request_is_not_retried(mocked: responses.RequestsMock) -> None:
    """A 400 is final: one attempt even when retries are allowed."""
    mocked.post(
        CHECKOUT_URL,
        status=400,
        json=stripe_error("invalid_request_error", "No such price: 'price_nope'", code="resource_missing"),
    )

    with pytest.raises(PaymentsError) as caught:
        payments(max_retries=2).create_checkout_session(checkout_params(body("payment"), None, None), KEY)

    assert caught.value.message == "No such price: 'price_nope'"
    assert len(mocked.calls) == 1


@pytest.mark.usefixtures("no_backoff")
def test_a_retried_portal_call_reuses_one_generated_idempotency_key(mocked: responses.RequestsMock) -> None:
    """The portal passes no key; the SDK's own key is sent, the same on the retry, so it cannot double up."""
    mocked.post(PORTAL_URL, status=500, json=stripe_error("api_error", "Something went wrong."))
    mocked.post(PORTAL_URL, json=PORTAL_SESSION)

    url = payments(max_retries=1).create_portal_session("cus_1", SUCCESS)

    keys = [call.request.headers["Idempotency-Key"] for call in mocked.calls]
    assert url == PORTAL_SESSION_URL
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert keys[0]


def test_importing_and_building_the_app_does_not_import_stripe(tmp_path: Path) -> None:
    """`import handlers.app` and create_app() with a key leave `stripe` unimported (it loads on first use)."""
    script = (
        "import sys\n"
        "import handlers.app\n"
        "print('stripe' in sys.modules)\n"
        "handlers.app.create_app({'STRIPE_SECRET_KEY': 'sk_test_x', 'DATABASE_URL': sys.argv[1]})\n"
        "print('stripe' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, f"sqlite:///{tmp_path}/p.sqlite3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


LINE_ITEMS_URL = "https://api.stripe.com/v1/checkout/sessions/cs_test_a1b2c3/line_items"


def line_items(*prices: str) -> dict[str, Any]:
    """Stripe's list of a session's line items."""
    data = [
        {"id": f"li_{n}", "object": "item", "price": {"id": p, "object": "price"}}
        for n, p in enumerate(prices)
    ]
    return {"object": "list", "data": data, "has_more": False, "url": "/v1/checkout/sessions/x/line_items"}


@pytest.mark.parametrize("prices", [("price_1",), ("price_1", "price_2")], ids=["one-as-asked", "more"])
def test_checkout_price_lists_the_sessions_line_items(
    mocked: responses.RequestsMock, prices: tuple[str, ...]
) -> None:
    """GET /v1/checkout/sessions/<id>/line_items?limit=1 with the Bearer key; the first price is answered."""
    mocked.get(
        LINE_ITEMS_URL,
        json=line_items(*prices),
        match=[matchers.query_param_matcher({"limit": "1"})],
    )

    assert payments().checkout_price("cs_test_a1b2c3") == "price_1"
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {SECRET_KEY}"


def test_checkout_price_of_a_session_without_items_is_none(mocked: responses.RequestsMock) -> None:
    """An empty list answers None."""
    mocked.get(LINE_ITEMS_URL, json=line_items())

    assert payments().checkout_price("cs_test_a1b2c3") is None


@pytest.mark.parametrize(
    ("status", "payload", "message"),
    [
        pytest.param(
            404,
            stripe_error("invalid_request_error", "No such checkout.session: 'cs_test_a1b2c3'"),
            "No such checkout.session: 'cs_test_a1b2c3'",
            id="unknown-session",
        ),
        pytest.param(
            500, stripe_error("api_error", "An unknown error occurred."), UNAVAILABLE, id="stripe-500"
        ),
    ],
)
def test_checkout_price_failures_are_payments_errors(
    mocked: responses.RequestsMock, status: int, payload: dict[str, Any], message: str
) -> None:
    """Stripe's errors become PaymentsError with the usual messages."""
    mocked.get(LINE_ITEMS_URL, status=status, json=payload)

    with pytest.raises(PaymentsError) as info:
        payments().checkout_price("cs_test_a1b2c3")

    assert info.value.message == message


NO_CUSTOMER = stripe_error(
    "invalid_request_error", "No such customer: 'cus_gone'", code="resource_missing", param="customer"
)


@pytest.mark.parametrize(("url", "operation"), OPERATIONS)
def test_an_unknown_customer_is_unknown_customer(
    mocked: responses.RequestsMock, url: str, operation: Operation, caplog: pytest.LogCaptureFixture
) -> None:
    """`resource_missing` on param `customer` is UnknownCustomer, still carrying Stripe's message."""
    mocked.post(url, status=400, json=NO_CUSTOMER, headers={"request-id": "req_gone"})

    with pytest.raises(UnknownCustomer) as caught:
        operation(payments())

    assert caught.value.message == "No such customer: 'cus_gone'"
    assert [r.getMessage() for r in caplog.records if r.name == "handlers.stripe"] == [
        "stripe call failed: InvalidRequestError status=400 code=resource_missing request_id=req_gone"
    ]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"code": "resource_missing", "param": "line_items[0][price]"}, id="unknown-price"),
        pytest.param({"code": "resource_missing"}, id="no-param"),
        pytest.param({"param": "customer"}, id="customer-but-no-code"),
    ],
)
def test_other_refusals_are_not_unknown_customer(
    mocked: responses.RequestsMock, fields: dict[str, str]
) -> None:
    """By code and param together: an unknown price is `resource_missing` too, and stays a PaymentsError."""
    mocked.post(CHECKOUT_URL, status=400, json=stripe_error("invalid_request_error", "Refused.", **fields))

    with pytest.raises(PaymentsError) as caught:
        payments().create_checkout_session(checkout_params(body("payment"), None, None), KEY)

    assert type(caught.value) is PaymentsError
    assert caught.value.message == "Refused."


PORTAL_NOT_SET_UP = "The billing portal is not available yet. Please contact support."


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(
            "No configuration provided and your test mode default configuration has not been created. Provide"
            " a configuration or create your default by saving your customer portal settings in test mode at"
            " https://dashboard.stripe.com/test/settings/billing/portal.",
            id="test-mode",
        ),
        pytest.param(
            "No configuration provided and your live mode default configuration has not been created. Provide"
            " a configuration or create your default by saving your customer portal settings in live mode at"
            " https://dashboard.stripe.com/settings/billing/portal.",
            id="live-mode",
        ),
    ],
)
def test_an_unconfigured_portal_is_a_safe_message_and_one_warning(
    mocked: responses.RequestsMock, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The user's message names no dashboard and no mode; one warning tells the operator what to set."""
    mocked.post(
        PORTAL_URL,
        status=400,
        json=stripe_error("invalid_request_error", message),
        headers={"request-id": "req_portal"},
    )

    with pytest.raises(PortalNotConfigured) as caught:
        payments().create_portal_session("cus_1", SUCCESS)

    assert caught.value.message == PORTAL_NOT_SET_UP
    (warning,) = [r for r in caplog.records if r.name == "handlers.stripe"]
    assert warning.levelname == "WARNING"
    assert warning.getMessage() == (
        "Stripe has no customer portal configuration to open: save the customer portal settings in the"
        " Stripe dashboard (Settings > Billing > Customer portal, in the mode of STRIPE_SECRET_KEY), or set"
        " STRIPE_PORTAL_CONFIGURATION to a portal configuration id (bpc_...). request_id=req_portal"
    )


def test_the_configured_portal_is_sent_with_every_portal_session(mocked: responses.RequestsMock) -> None:
    """With a portal configuration, POST /v1/billing_portal/sessions carries it as `configuration`."""
    mocked.post(
        PORTAL_URL,
        json=PORTAL_SESSION,
        match=[
            matchers.urlencoded_params_matcher(
                {"customer": "cus_1", "return_url": SUCCESS, "configuration": "bpc_1Abc"}
            )
        ],
    )

    assert (
        payments(portal_configuration="bpc_1Abc").create_portal_session("cus_1", SUCCESS)
        == PORTAL_SESSION_URL
    )


def test_a_refused_portal_configuration_is_portal_not_configured(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    """A `bpc_...` Stripe does not know (deleted, other mode) is the same safe 500, with its own warning."""
    mocked.post(
        PORTAL_URL,
        status=400,
        json=stripe_error(
            "invalid_request_error",
            "No such configuration: 'bpc_gone'",
            code="resource_missing",
            param="configuration",
        ),
        headers={"request-id": "req_bpc"},
    )

    with pytest.raises(PortalNotConfigured) as caught:
        payments(portal_configuration="bpc_gone").create_portal_session("cus_1", SUCCESS)

    assert caught.value.message == PORTAL_NOT_SET_UP
    assert [r.getMessage() for r in caplog.records if r.name == "handlers.stripe"] == [
        "Stripe refused the customer portal configuration in STRIPE_PORTAL_CONFIGURATION"
        " (code=resource_missing): use an active bpc_... id from the Stripe dashboard (Settings > Billing >"
        " Customer portal) in the mode of STRIPE_SECRET_KEY, or unset it to use the saved default."
        " request_id=req_bpc"
    ]


def test_a_stale_customer_checkout_sends_two_exact_requests_with_their_own_keys(
    mocked: responses.RequestsMock,
) -> None:
    """Through the handler and the SDK: the refused attempt with `customer`, then one without it (email
    prefill, customer_creation) under another key, which the next identical click sends again."""
    signed_in = {"mode": "payment", **COMMON, "client_reference_id": USER_ID}
    first = {**signed_in, "customer": "cus_gone"}
    retry = {**signed_in, "customer_email": "ada@example.com", "customer_creation": "always"}
    mocked.post(CHECKOUT_URL, status=400, json=NO_CUSTOMER, match=[matchers.urlencoded_params_matcher(first)])
    mocked.post(CHECKOUT_URL, json=SESSION, match=[matchers.urlencoded_params_matcher(retry)])
    mocked.post(CHECKOUT_URL, json=SESSION, match=[matchers.urlencoded_params_matcher(retry)])
    profiles = FakeProfiles(Profile(USER_ID, "ada@example.com", "cus_gone"))
    router = make_router(payments(), profiles)
    request = Request(
        "POST",
        "/api/stripe/create-checkout",
        headers=(
            ("authorization", f"Bearer {make_token()}"),
            ("content-type", "application/json"),
            ("idempotency-key", "click-1"),
        ),
        body=json.dumps(body("payment")).encode(),
    )

    response = router.dispatch(request)
    again = router.dispatch(request)

    assert (response.status, response.body) == (200, {"url": SESSION_URL})
    assert (again.status, again.body) == (200, {"url": SESSION_URL})
    keys = [call.request.headers["Idempotency-Key"] for call in mocked.calls]
    assert keys[0] != keys[1] and keys[1] == keys[2]
    assert all(re.fullmatch(r"checkout-[0-9a-f]{64}", key) for key in keys)
    assert profiles.forgotten == [(USER_ID, "cus_gone")]


@pytest.mark.parametrize(
    ("before", "after"), [(logging.NOTSET, logging.WARNING), (logging.DEBUG, logging.DEBUG)]
)
def test_the_sdks_own_info_lines_are_quiet_unless_asked_for(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, before: int, after: int
) -> None:
    """The SDK's logger goes to WARNING (its INFO lines are noise); a level set on purpose stays."""
    sdk_log = logging.getLogger("stripe")
    monkeypatch.setattr(sdk_log, "level", before)
    mocked.post(PORTAL_URL, json=PORTAL_SESSION)
    payments().create_portal_session("cus_1", SUCCESS)
    assert sdk_log.level == after
