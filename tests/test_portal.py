"""POST /api/stripe/create-portal, handler level over fake ports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.http import Request, Response
from handlers.ports import PaymentsError, PortalNotConfigured, Profile, StoreError
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

NOT_SIGNED_IN = {"error": "You must be logged in to view billing information."}
NO_ACCOUNT = {"error": "You don't have a billing account yet. Make a purchase first."}
RETURN = "https://app.example.com/account"


def post(body: Any, *headers: tuple[str, str]) -> Request:
    """A create-portal request with a JSON body."""
    return Request("POST", "/api/stripe/create-portal", headers=headers, body=json.dumps(body).encode())


def bearer(**claims: Any) -> tuple[str, str]:
    """An Authorization header carrying a token for USER_ID."""
    return ("authorization", f"Bearer {make_token(**claims)}")


def run(request: Request, payments: FakePayments, profiles: FakeProfiles) -> Response:
    """The response the router makes of the handler's answer or error."""
    return make_router(payments, profiles).dispatch(request)


@pytest.fixture(name="payments")
def _payments() -> FakePayments:
    return FakePayments()


@pytest.fixture(name="customer")
def _customer() -> FakeProfiles:
    return FakeProfiles(Profile(USER_ID, email="ada@example.com", customer_id="cus_123", has_access=True))


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param((), id="none"),
        pytest.param((("authorization", "Bearer not.a.jwt"),), id="malformed"),
        pytest.param((bearer(exp=1),), id="expired"),
        pytest.param((bearer(secret="another-project-secret-that-is-long-enough!"),), id="forged"),
        pytest.param((("authorization", "Basic dXNlcjpwYXNz"),), id="basic-auth"),
        pytest.param((("cookie", "sb-abcd-auth-token=base64-%%%"),), id="garbage-cookie"),
    ],
)
def test_not_signed_in_is_401_before_anything_else(
    payments: FakePayments, customer: FakeProfiles, headers: tuple[tuple[str, str], ...]
) -> None:
    """Missing or bad credentials are a 401 even when the body is also invalid."""
    response = run(post({}, *headers), payments, customer)
    assert (response.status, response.body) == (401, NOT_SIGNED_IN)
    assert customer.reads == [] and payments.portals == []


def test_return_url_required_before_profile_lookup(payments: FakePayments, customer: FakeProfiles) -> None:
    """A signed-in request without returnUrl is a 400 and reads no profile."""
    response = run(post({}, bearer()), payments, customer)
    assert (response.status, response.body) == (400, {"error": "Return URL is required"})
    assert customer.reads == []


def test_invalid_return_url(payments: FakePayments, customer: FakeProfiles) -> None:
    """A returnUrl that is not an absolute http(s) URL is a 400 of ours."""
    response = run(post({"returnUrl": "account"}, bearer()), payments, customer)
    assert (response.status, response.body) == (
        400,
        {"error": "returnUrl must be an absolute http or https URL"},
    )


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param((), id="no-profile"),
        pytest.param((Profile(USER_ID),), id="profile-without-customer"),
        pytest.param((Profile(USER_ID, customer_id=""),), id="empty-customer"),
    ],
)
def test_no_billing_account(payments: FakePayments, rows: tuple[Profile, ...]) -> None:
    """A user with no Stripe customer is told to make a purchase first."""
    # A fresh store per run: one built in the parameters would carry its reads into a second run.
    profiles = FakeProfiles(*rows)
    response = run(post({"returnUrl": RETURN}, bearer()), payments, profiles)
    assert (response.status, response.body) == (400, NO_ACCOUNT)
    assert profiles.reads == [USER_ID] and payments.portals == []


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param(bearer(), id="bearer"),
        pytest.param(("cookie", cookie_header(make_token())), id="cookie"),
        pytest.param(("cookie", cookie_header(make_token(), encoding="raw", chunk=200)), id="raw-chunked"),
    ],
)
def test_portal_url_for_a_customer(
    payments: FakePayments, customer: FakeProfiles, credential: tuple[str, str]
) -> None:
    """A signed-in customer gets the portal URL for their own customer id and return URL."""
    response = run(post({"returnUrl": RETURN}, credential), payments, customer)
    assert (response.status, response.body) == (200, {"url": "https://billing.stripe.com/p/session/test_1"})
    assert payments.portals == [("cus_123", RETURN)]


def test_stripe_failure_is_500(payments: FakePayments, customer: FakeProfiles) -> None:
    """A Stripe failure is a 500 with the port's safe message."""
    payments.fail = PaymentsError("The payment provider is unavailable. Please try again.")
    response = run(post({"returnUrl": RETURN}, bearer()), payments, customer)
    assert (response.status, response.body) == (
        500,
        {"error": "The payment provider is unavailable. Please try again."},
    )


def test_store_failure_is_500(payments: FakePayments, customer: FakeProfiles) -> None:
    """A profile store failure is a 500 with a safe message."""
    customer.down = True
    response = run(post({"returnUrl": RETURN}, bearer()), payments, customer)
    assert (response.status, response.body) == (
        500,
        {"error": "Billing information is unavailable right now. Please try again."},
    )


def test_a_customer_stripe_no_longer_knows_has_no_billing_account(payments: FakePayments) -> None:
    """Stripe's unknown customer is the documented 400, now true: the id is forgotten, not sent again."""
    payments.unknown_customers = {"cus_gone"}
    profiles = FakeProfiles(Profile(USER_ID, email="ada@example.com", customer_id="cus_gone"))

    first = run(post({"returnUrl": RETURN}, bearer()), payments, profiles)
    second = run(post({"returnUrl": RETURN}, bearer()), payments, profiles)

    assert (first.status, first.body) == (400, NO_ACCOUNT)
    assert (second.status, second.body) == (400, NO_ACCOUNT)
    assert payments.portals == [("cus_gone", RETURN)]
    assert profiles.forgotten == [(USER_ID, "cus_gone")]


def test_a_store_failure_while_forgetting_is_still_the_400(
    payments: FakePayments, caplog: pytest.LogCaptureFixture
) -> None:
    """The user's answer does not depend on the store: it is the 400, and the log says why it may recur."""

    class ForgetFails(FakeProfiles):
        def forget_customer(self, user_id: str, customer_id: str) -> None:
            raise StoreError("store is down")

    payments.unknown_customers = {"cus_gone"}
    response = run(
        post({"returnUrl": RETURN}, bearer()), payments, ForgetFails(Profile(USER_ID, None, "cus_gone"))
    )

    assert (response.status, response.body) == (400, NO_ACCOUNT)
    assert [r.getMessage().split(" request_id=")[0] for r in caplog.records if r.levelname == "WARNING"] == [
        "could not forget customer cus_gone, unknown to Stripe: store is down"
    ]


def test_an_unconfigured_portal_is_a_500_safe_for_the_user(
    payments: FakePayments, customer: FakeProfiles
) -> None:
    """No dashboard link and no mode reach the user; the customer is kept."""
    payments.fail = PortalNotConfigured()
    response = run(post({"returnUrl": RETURN}, bearer()), payments, customer)
    assert (response.status, response.body) == (
        500,
        {"error": "The billing portal is not available yet. Please contact support."},
    )
    assert customer.forgotten == []


ON_APP = Settings(
    supabase_url=SUPABASE_URL,
    supabase_jwt_secret=SECRET,
    allowed_redirect_origins=("https://app.example.com",),
)


def run_with(
    settings: Settings, request: Request, payments: FakePayments, profiles: FakeProfiles
) -> Response:
    """As `run`, with `settings` in place of the test defaults."""
    return make_router(payments, profiles, settings).dispatch(request)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://evil.example/account", id="other-site"),
        pytest.param("http://app.example.com/account", id="other-scheme"),
        pytest.param("https://app.example.com:8443/account", id="other-port"),
        pytest.param("https://app.example.com.evil.example/account", id="suffix-trick"),
    ],
)
def test_a_return_url_off_the_allowed_origins_is_refused(
    payments: FakePayments, customer: FakeProfiles, url: str
) -> None:
    """With ALLOWED_REDIRECT_ORIGINS set, Stripe is never sent elsewhere: a 400 before the profile lookup."""
    response = run_with(ON_APP, post({"returnUrl": url}, bearer()), payments, customer)
    assert (response.status, response.body) == (400, {"error": "returnUrl must be on an allowed origin"})
    assert customer.reads == [] and payments.portals == []


@pytest.mark.parametrize(
    "url",
    [RETURN, "https://APP.example.com:443/account?tab=billing"],
    ids=["same-origin", "same-origin-spelled-otherwise"],
)
def test_a_return_url_on_an_allowed_origin_opens_the_portal(
    payments: FakePayments, customer: FakeProfiles, url: str
) -> None:
    """A returnUrl on a listed origin (case and default port aside) reaches Stripe unchanged."""
    response = run_with(ON_APP, post({"returnUrl": url}, bearer()), payments, customer)
    assert (response.status, response.body) == (200, {"url": "https://billing.stripe.com/p/session/test_1"})
    assert payments.portals == [("cus_123", url)]
