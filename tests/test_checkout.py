"""POST /api/stripe/create-checkout, handler level over fake ports."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any

import pytest

from handlers.checkout import idempotency_key
from handlers.http import Request, Response
from handlers.ports import KeysUnavailable, PaymentsError, Profile, StoreError, UnknownCustomer
from handlers.settings import Settings
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

BODY = {
    "priceId": "price_123",
    "successUrl": "https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}",
    "cancelUrl": "https://app.example.com/pricing",
    "mode": "payment",
}
BASE = {
    "line_items": [{"price": "price_123", "quantity": 1}],
    "success_url": "https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}",
    "cancel_url": "https://app.example.com/pricing",
    "allow_promotion_codes": True,
}


def post(body: Any, headers: tuple[tuple[str, str], ...] = ()) -> Request:
    """A create-checkout request with a JSON body."""
    return Request(
        "POST",
        "/api/stripe/create-checkout",
        headers=(("content-type", "application/json"), *headers),
        body=json.dumps(body).encode(),
        client="203.0.113.7",
    )


def run(request: Request, payments: FakePayments, profiles: FakeProfiles | None = None) -> Response:
    """The response the router makes of the handler's answer or error."""
    return make_router(payments, profiles).dispatch(request)


@pytest.fixture(name="payments")
def _payments() -> FakePayments:
    return FakePayments()


CASES = [
    pytest.param(
        "payment", (), None, {**BASE, "mode": "payment", "customer_creation": "always"}, id="pay-anon"
    ),
    pytest.param("subscription", (), None, {**BASE, "mode": "subscription"}, id="sub-anon"),
    pytest.param(
        "payment",
        (("authorization", f"Bearer {make_token()}"),),
        None,
        {
            **BASE,
            "mode": "payment",
            "client_reference_id": USER_ID,
            "customer_email": "ada@example.com",
            "customer_creation": "always",
        },
        id="pay-signed-in-new",
    ),
    pytest.param(
        "subscription",
        (("cookie", cookie_header(make_token())),),
        None,
        {**BASE, "mode": "subscription", "client_reference_id": USER_ID, "customer_email": "ada@example.com"},
        id="sub-cookie-new",
    ),
    pytest.param(
        "payment",
        (("authorization", f"Bearer {make_token()}"),),
        "cus_123",
        {**BASE, "mode": "payment", "client_reference_id": USER_ID, "customer": "cus_123"},
        id="pay-known-customer",
    ),
    pytest.param(
        "subscription",
        (("authorization", f"Bearer {make_token()}"),),
        "cus_123",
        {**BASE, "mode": "subscription", "client_reference_id": USER_ID, "customer": "cus_123"},
        id="sub-known-customer",
    ),
    pytest.param(
        "payment",
        (("authorization", f"Bearer {make_token(email=None)}"),),
        None,
        {**BASE, "mode": "payment", "client_reference_id": USER_ID, "customer_creation": "always"},
        id="pay-signed-in-no-email",
    ),
    pytest.param(
        "payment",
        (("authorization", f"Bearer {make_token(secret='forged-secret-of-the-same-length-as-ours!!')}"),),
        "cus_123",
        {**BASE, "mode": "payment", "customer_creation": "always"},
        id="forged-token-is-anonymous",
    ),
]


@pytest.mark.parametrize(("mode", "headers", "customer", "expected"), CASES)
def test_exact_stripe_params(
    payments: FakePayments,
    mode: str,
    headers: tuple[tuple[str, str], ...],
    customer: str | None,
    expected: dict[str, Any],
) -> None:
    """Stripe is sent exactly these parameters, and the client gets the session URL."""
    profiles = FakeProfiles(Profile(USER_ID, customer_id=customer)) if customer else FakeProfiles()
    response = run(post({**BODY, "mode": mode}, headers), payments, profiles)
    assert (response.status, response.body) == (200, {"url": "https://checkout.stripe.com/c/pay/cs_test_1"})
    assert [params for params, _ in payments.checkouts] == [expected]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({}, "Price ID is required", id="empty"),
        pytest.param({"successUrl": "x", "mode": "payment"}, "Price ID is required", id="price-first"),
        pytest.param(
            {"priceId": "price_1", "mode": "payment"}, "Success and cancel URLs are required", id="urls"
        ),
        pytest.param(
            {**BODY, "mode": "setup"},
            "Mode is required (either 'payment' for one-time payments or 'subscription' for recurring"
            " subscription)",
            id="mode",
        ),
    ],
)
def test_documented_400s_never_reach_stripe(payments: FakePayments, body: Any, message: str) -> None:
    """Each documented 400 is exact and no Stripe call is made."""
    response = run(post(body), payments)
    assert (response.status, response.body) == (400, {"error": message})
    assert payments.checkouts == []


def test_stripe_invalid_request_is_500_with_its_message(payments: FakePayments) -> None:
    """A Stripe failure is a 500 carrying the port's safe message."""
    payments.fail = PaymentsError("No such price: 'price_123'")
    response = run(post(BODY), payments)
    assert (response.status, response.body) == (500, {"error": "No such price: 'price_123'"})


def test_store_failure_is_500(payments: FakePayments) -> None:
    """A signed-in checkout whose profile cannot be read is a 500, and Stripe is not called."""
    profiles = FakeProfiles()
    profiles.down = True
    response = run(post(BODY, (("authorization", f"Bearer {make_token()}"),)), payments, profiles)
    assert (response.status, response.body) == (
        500,
        {"error": "Billing information is unavailable right now. Please try again."},
    )
    assert payments.checkouts == []


def test_keys_unavailable_is_500(payments: FakePayments) -> None:
    """When signing keys cannot be fetched the session cannot be verified: 500, not anonymous."""

    class DownKeys:
        def key_for(self, header: Any) -> Any:
            raise KeysUnavailable("timeout")

    router = make_router(payments, signing_keys=DownKeys())
    response = router.dispatch(post(BODY, (("authorization", f"Bearer {make_token()}"),)))
    assert (response.status, response.body) == (
        500,
        {"error": "Your session could not be verified right now. Please try again."},
    )
    assert payments.checkouts == []


def test_allowed_redirect_origins(payments: FakePayments) -> None:
    """With ALLOWED_REDIRECT_ORIGINS set, a URL on another origin is a 400 naming the field."""
    settings = Settings(
        supabase_url=SUPABASE_URL,
        supabase_jwt_secret=SECRET,
        allowed_redirect_origins=("https://app.example.com",),
    )
    router = make_router(payments, settings=settings)
    assert router.dispatch(post(BODY)).status == 200
    response = router.dispatch(post({**BODY, "cancelUrl": "https://evil.example/"}))
    assert (response.status, response.body) == (400, {"error": "cancelUrl must be on an allowed origin"})


def test_double_click_reuses_the_idempotency_key(payments: FakePayments) -> None:
    """A signed-in user's two identical requests in one window send one key; other params do not."""
    signed_in = (("authorization", f"Bearer {make_token()}"),)
    run(post(BODY, signed_in), payments)
    run(post(BODY, signed_in), payments)
    run(post({**BODY, "priceId": "price_other"}, signed_in), payments)
    run(post(BODY, (*signed_in, ("idempotency-key", "click-1"))), payments)
    keys = [key for _, key in payments.checkouts]
    assert keys[0] == keys[1]
    assert len(set(keys)) == 3
    assert all(key and key.startswith("checkout-") and len(key) == len("checkout-") + 64 for key in keys)


def test_signed_out_double_click_shares_a_key_other_browsers_do_not(payments: FakePayments) -> None:
    """Signed out, one browser's double click sends one key; another address or forwarded client differs."""
    run(post(BODY), payments)
    run(post(BODY), payments)
    run(post(BODY, (("x-forwarded-for", "198.51.100.9"),)), payments)
    run(post(BODY, (("user-agent", "another browser"),)), payments)
    keys = [key for _, key in payments.checkouts]
    assert keys[0] == keys[1]
    assert len(set(keys)) == 3


def test_idempotency_key_window_and_client_header() -> None:
    """The window key changes with time; a client Idempotency-Key overrides the window."""
    params: dict[str, Any] = {**BASE, "mode": "payment", "client_reference_id": USER_ID}
    plain = post(BODY)
    assert idempotency_key(plain, params, 1000.0) == idempotency_key(plain, params, 1009.0)
    assert idempotency_key(plain, params, 1000.0) != idempotency_key(plain, params, 1010.0)
    keyed = post(BODY, (("idempotency-key", "click-1"),))
    assert idempotency_key(keyed, params, 1000.0) == idempotency_key(keyed, params, 5000.0)
    assert idempotency_key(keyed, params, 1000.0) != idempotency_key(plain, params, 1000.0)
    assert "ada@example.com" not in str(
        idempotency_key(keyed, {**params, "customer_email": "ada@example.com"}, 0)
    )


def test_the_idempotency_key_is_the_same_in_every_release() -> None:
    """Its recipe is fixed, so a retry that reaches a worker of another release makes no second session:
    sha256 of scope, who (user, else address|forwarded-for|User-Agent|language) and the sorted params."""
    params: dict[str, Any] = {"mode": "payment", "success_url": "https://app.example.com/ok", "quantity": 1}
    browser = Request(
        "POST",
        "/api/stripe/create-checkout",
        (("x-forwarded-for", "198.51.100.9"), ("user-agent", "UA/1")),
        client="203.0.113.7",
    )
    keyed = replace(browser, headers=(("idempotency-key", "click-1"),))
    recipe = "\n203.0.113.7|198.51.100.9|UA/1|\npayment|1|https://app.example.com/ok"
    signed_in = "client:click-1\nuser-7\nuser-7|payment|1|https://app.example.com/ok"

    assert idempotency_key(browser, params, 1005.0) == f"checkout-{sha256(f'window:100{recipe}')}"
    assert idempotency_key(keyed, {**params, "client_reference_id": "user-7"}, 0) == (
        f"checkout-{sha256(signed_in)}"
    )


def sha256(text: str) -> str:
    """The hex SHA-256 of `text` in UTF-8."""
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_session_whose_subject_has_a_lone_surrogate_still_checks_out(payments: FakePayments) -> None:
    """JSON lets a signed token's `sub` hold a lone surrogate: the key is still made, no 500."""
    token = make_token(sub="user-\ud800")
    response = run(post(BODY, (("authorization", f"Bearer {token}"),)), payments)
    ((params, key),) = payments.checkouts
    assert (response.status, params["client_reference_id"]) == (200, "user-\ud800")
    assert key is not None and re.fullmatch(r"checkout-[0-9a-f]{64}", key)


STALE_PROFILE = Profile(USER_ID, email="ada@example.com", customer_id="cus_gone")
SIGNED_IN = (("authorization", f"Bearer {make_token()}"),)


@pytest.mark.parametrize(
    ("mode", "retried"),
    [
        pytest.param(
            "payment",
            {"customer_email": "ada@example.com", "customer_creation": "always"},
            id="payment-creates-a-customer",
        ),
        pytest.param("subscription", {"customer_email": "ada@example.com"}, id="subscription"),
    ],
)
def test_a_stale_customer_is_retried_once_without_it_and_forgotten(
    payments: FakePayments, mode: str, retried: dict[str, Any]
) -> None:
    """Stripe's unknown customer: once more as for a user without one, with its own key; then forgotten."""
    payments.unknown_customers = {"cus_gone"}
    profiles = FakeProfiles(STALE_PROFILE)

    response = run(post({**BODY, "mode": mode}, SIGNED_IN), payments, profiles)

    assert (response.status, response.body) == (200, {"url": "https://checkout.stripe.com/c/pay/cs_test_1"})
    signed_in = {**BASE, "mode": mode, "client_reference_id": USER_ID}
    assert [params for params, _ in payments.checkouts] == [
        {**signed_in, "customer": "cus_gone"},
        {**signed_in, **retried},
    ]
    first, second = (key for _, key in payments.checkouts)
    assert first != second
    assert profiles.forgotten == [(USER_ID, "cus_gone")]
    assert profiles.rows[USER_ID].customer_id is None


def test_the_retry_uses_the_key_a_repeated_click_gets(payments: FakePayments) -> None:
    """The retry's key is the one the next identical click computes, so both land on one session."""
    payments.unknown_customers = {"cus_gone"}
    profiles = FakeProfiles(STALE_PROFILE)
    clicked = (*SIGNED_IN, ("idempotency-key", "click-1"))

    run(post(BODY, clicked), payments, profiles)
    run(post(BODY, clicked), payments, profiles)

    params, keys = zip(*payments.checkouts, strict=True)
    assert len(params) == 3 and params[1] == params[2] and "customer" not in params[2]
    assert keys[0] != keys[1] and keys[1] == keys[2]
    # And the first attempt's key is the one a customer Stripe knows gets, as before.
    known = FakePayments()
    run(post(BODY, clicked), known, FakeProfiles(STALE_PROFILE))
    assert known.checkouts[0][1] == keys[0]


def test_a_store_failure_while_forgetting_still_checks_out(
    payments: FakePayments, caplog: pytest.LogCaptureFixture
) -> None:
    """The user still gets a checkout; the log says the id could not be forgotten."""

    class ForgetFails(FakeProfiles):
        def forget_customer(self, user_id: str, customer_id: str) -> None:
            raise StoreError("store is down")

    payments.unknown_customers = {"cus_gone"}
    response = run(post(BODY, SIGNED_IN), payments, ForgetFails(STALE_PROFILE))

    assert response.status == 200 and len(payments.checkouts) == 2
    assert [r.getMessage().split(" request_id=")[0] for r in caplog.records if r.levelname == "WARNING"] == [
        "could not forget customer cus_gone, unknown to Stripe: store is down"
    ]


def test_an_unknown_customer_that_was_not_sent_is_a_500(payments: FakePayments) -> None:
    """Signed out there is no customer to drop: Stripe's message is the 500, and nothing is retried."""
    payments.fail = UnknownCustomer("No such customer: 'cus_x'")
    response = run(post(BODY), payments)
    assert (response.status, response.body) == (500, {"error": "No such customer: 'cus_x'"})
    assert len(payments.checkouts) == 1


def test_an_unknown_price_for_a_customer_is_not_retried(payments: FakePayments) -> None:
    """Only UnknownCustomer is retried: any other refusal is the 500 it was, and nothing is forgotten."""
    payments.fail = PaymentsError("No such price: 'price_123'")
    profiles = FakeProfiles(STALE_PROFILE)
    response = run(post(BODY, SIGNED_IN), payments, profiles)
    assert (response.status, response.body) == (500, {"error": "No such price: 'price_123'"})
    assert len(payments.checkouts) == 1 and profiles.forgotten == []


ON_APP = Settings(
    supabase_url=SUPABASE_URL,
    supabase_jwt_secret=SECRET,
    allowed_redirect_origins=("https://app.example.com",),
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"successUrl": "https://evil.example/done"},
            "successUrl must be on an allowed origin",
            id="success",
        ),
        pytest.param(
            {"successUrl": "http://app.example.com/done", "cancelUrl": "https://evil.example/"},
            "successUrl must be on an allowed origin",
            id="success-named-first",
        ),
        pytest.param(
            {"cancelUrl": "https://app.example.com:8443/"},
            "cancelUrl must be on an allowed origin",
            id="cancel",
        ),
    ],
)
def test_a_redirect_off_the_allowed_origins_names_its_field(
    payments: FakePayments, changes: dict[str, str], message: str
) -> None:
    """The 400 names the field off the allowed origins, successUrl before cancelUrl; Stripe is not called."""
    response = make_router(payments, settings=ON_APP).dispatch(post({**BODY, **changes}))
    assert (response.status, response.body) == (400, {"error": message})
    assert payments.checkouts == []


OTHER_USER = "0b7e5b0c-1111-4a2b-8c3d-4e5f6a7b8c9d"


def from_browser(headers: tuple[tuple[str, str], ...], address: str, agent: str) -> Request:
    """The checkout BODY sent with `headers` from the browser at `address` that calls itself `agent`."""
    request = post(BODY, (*headers, ("user-agent", agent), ("accept-language", agent[:2])))
    return replace(request, client=address)


def test_a_signed_in_users_key_follows_the_user_not_the_browser(payments: FakePayments) -> None:
    """Signed in, the window key is the user's: one user in two browsers shares it, two users do not."""
    ada = (("authorization", f"Bearer {make_token()}"),)
    bo = (("authorization", f"Bearer {make_token(sub=OTHER_USER)}"),)
    run(from_browser(ada, "203.0.113.7", "Firefox"), payments)
    run(from_browser((*ada, ("x-forwarded-for", "198.51.100.9")), "192.0.2.1", "Chrome"), payments)
    run(from_browser(bo, "203.0.113.7", "Firefox"), payments)
    keys = [key for _, key in payments.checkouts]
    assert keys[0] == keys[1]
    assert keys[2] != keys[0]


def test_browsers_that_differ_only_in_language_get_their_own_keys(payments: FakePayments) -> None:
    """Signed out, Accept-Language is part of what tells one browser from another."""
    run(post(BODY, (("accept-language", "en-GB"),)), payments)
    run(post(BODY, (("accept-language", "de-DE"),)), payments)
    run(post(BODY, (("accept-language", "en-GB"),)), payments)
    keys = [key for _, key in payments.checkouts]
    assert keys[0] == keys[2] != keys[1]


class TokenRecordingProfiles(FakeProfiles):
    """Records the access token each profile read is made with."""

    def __init__(self, *profiles: Profile) -> None:
        super().__init__(*profiles)
        self.tokens: list[str | None] = []

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
        self.tokens.append(access_token)
        return super().get(user_id, access_token)


def test_the_profile_is_read_with_the_users_own_token(payments: FakePayments) -> None:
    """A store that enforces row-level security (Supabase REST) is asked as the signed-in user."""
    token = make_token()
    profiles = TokenRecordingProfiles(Profile(USER_ID, customer_id="cus_123"))
    response = run(post(BODY, (("authorization", f"Bearer {token}"),)), payments, profiles)
    assert response.status == 200
    assert profiles.tokens == [token]


def test_an_unknown_customer_for_a_user_without_one_is_a_500(payments: FakePayments) -> None:
    """Signed in with no customer sent, Stripe's unknown customer is its 500: no retry, nothing forgotten."""
    payments.fail = UnknownCustomer("No such customer: 'cus_x'")
    profiles = FakeProfiles(Profile(USER_ID, email="ada@example.com"))
    response = run(post(BODY, SIGNED_IN), payments, profiles)
    assert (response.status, response.body) == (500, {"error": "No such customer: 'cus_x'"})
    assert len(payments.checkouts) == 1 and profiles.forgotten == []
