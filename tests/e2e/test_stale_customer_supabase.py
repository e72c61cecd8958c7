"""A customer Stripe no longer knows, over the Supabase REST store: the real stripe SDK talks HTTP to
scripts/stripe_emulator.py, and `responses` checks every PostgREST request exactly as supabase-js sends it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator

import pytest
import responses
from responses import matchers

from handlers.adapters.stripe_payments import StripePayments
from handlers.adapters.supabase_profiles import SupabaseProfiles
from handlers.http import Request, Response
from handlers.router import Router
from tests.helpers.fakes import USER_ID, make_router, make_token
from tests.helpers.servers import ROOT, STRIPE_KEY

sys.path.insert(0, str(ROOT / "scripts"))
from stripe_emulator import StripeEmulator

URL = "https://abcd.supabase.co"
ANON = "anon-key-eyJhbGciOiJIUzI1NiJ9.anon"
SERVICE = "service-key-eyJhbGciOiJIUzI1NiJ9.service"
PROFILES = f"{URL}/rest/v1/profiles"
STALE = "cus_missing_rest"
SUCCESS = "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "https://app.example.com/cancel"
ACCOUNT = "https://app.example.com/account"


@pytest.fixture(name="emulator", scope="module")
def _emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture(name="mocked")
def _mocked(emulator: StripeEmulator) -> Iterator[responses.RequestsMock]:
    """Supabase is mocked and every registered call must be made; Stripe calls reach the emulator."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add_passthru(emulator.url)
        yield mock


@pytest.fixture(name="router")
def _router(emulator: StripeEmulator) -> Router:
    """The handlers over the Supabase REST store and the stripe SDK pointed at the emulator."""
    return make_router(
        StripePayments(STRIPE_KEY, api_base=emulator.url, max_retries=0, timeout=5.0),
        SupabaseProfiles(URL, ANON, SERVICE, timeout=2.0),
    )


def read_profile(mocked: responses.RequestsMock, token: str) -> None:
    """The profile read, as the user, answering a row that holds the stale customer."""
    row = {
        "id": USER_ID,
        "email": "ada@example.com",
        "customer_id": STALE,
        "price_id": None,
        "has_access": False,
    }
    mocked.get(
        PROFILES,
        json=row,
        match=[
            matchers.query_string_matcher(
                f"select=id%2Cemail%2Ccustomer_id%2Cprice_id%2Chas_access&id=eq.{USER_ID}"
            ),
            matchers.header_matcher({"apikey": ANON, "Authorization": f"Bearer {token}"}),
        ],
    )


def forget(mocked: responses.RequestsMock) -> None:
    """The one PATCH that clears the stale customer, and only while the row still holds it."""
    mocked.patch(
        PROFILES,
        status=204,
        match=[
            matchers.query_string_matcher(f"id=eq.{USER_ID}&customer_id=eq.{STALE}"),
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


def post(path: str, body: dict[str, str], token: str, router: Router) -> Response:
    """A signed-in POST through the route table."""
    request = Request(
        "POST",
        path,
        headers=(
            ("authorization", f"Bearer {token}"),
            ("content-type", "application/json"),
            ("idempotency-key", "click-rest"),
        ),
        body=json.dumps(body).encode(),
        client="203.0.113.7",
    )
    return router.dispatch(request)


def test_checkout_retries_without_the_stale_customer_and_patches_it_away(
    mocked: responses.RequestsMock, emulator: StripeEmulator, router: Router
) -> None:
    """Two Stripe attempts with their own keys, then one service-role PATCH filtered on the stale id."""
    token = make_token()
    read_profile(mocked, token)
    forget(mocked)
    mark = len(emulator.requests)
    body = {"priceId": "price_rest", "successUrl": SUCCESS, "cancelUrl": CANCEL, "mode": "subscription"}

    response = post("/api/stripe/create-checkout", body, token, router)

    sent = emulator.requests[mark:]
    common = {
        "mode": "subscription",
        "line_items[0][price]": "price_rest",
        "line_items[0][quantity]": "1",
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        "allow_promotion_codes": "true",
        "client_reference_id": USER_ID,
    }
    assert [(r.params, r.status) for r in sent] == [
        (common | {"customer": STALE}, 400),
        (common | {"customer_email": "ada@example.com"}, 200),
    ]
    keys = [r.headers["idempotency-key"] for r in sent]
    assert all(re.fullmatch(r"checkout-[0-9a-f]{64}", key) for key in keys) and keys[0] != keys[1]
    assert sent[1].body is not None
    assert (response.status, response.body) == (200, {"url": sent[1].body["url"]})
    assert [call.request.method for call in mocked.calls] == ["GET", "PATCH"]


def test_portal_answers_no_billing_account_and_patches_it_away(
    mocked: responses.RequestsMock, emulator: StripeEmulator, router: Router
) -> None:
    """The portal's 400, after one Stripe attempt and the same PATCH."""
    token = make_token()
    read_profile(mocked, token)
    forget(mocked)
    mark = len(emulator.requests)

    response = post("/api/stripe/create-portal", {"returnUrl": ACCOUNT}, token, router)

    assert [(r.params, r.status) for r in emulator.requests[mark:]] == [
        ({"customer": STALE, "return_url": ACCOUNT}, 400)
    ]
    assert (response.status, response.body) == (
        400,
        {"error": "You don't have a billing account yet. Make a purchase first."},
    )
    assert [call.request.method for call in mocked.calls] == ["GET", "PATCH"]
