"""Every documented status code and message of both endpoints, replayed over HTTP."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
import requests

from contract_tests.conftest import Target

CHECKOUT = "/api/stripe/create-checkout"
PORTAL = "/api/stripe/create-portal"
PRICE = "Price ID is required"
URLS = "Success and cancel URLs are required"
MODE = (
    "Mode is required (either 'payment' for one-time payments or 'subscription' for recurring subscription)"
)
RETURN = "Return URL is required"
NOT_SIGNED_IN = "You must be logged in to view billing information."
NO_ACCOUNT = "You don't have a billing account yet. Make a purchase first."
GOOD = {
    "priceId": "price_contract",
    "successUrl": "https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}",
    "cancelUrl": "https://app.example.com/pricing",
    "mode": "payment",
}


def post(target: Target, path: str, body: Any, **headers: str) -> requests.Response:
    """POST a JSON body and check the answer is JSON."""
    response = requests.post(f"{target.base_url}{path}", json=body, headers=headers, timeout=30)
    assert response.headers["content-type"].startswith("application/json")
    return response


def token(target: Target) -> str:
    """A fresh signed-in user (unique per run) for a deployment whose secret was given."""
    if not target.jwt_secret:
        pytest.skip("needs --jwt-secret to mint a signed-in user")
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "email": f"contract-{uuid.uuid4().hex[:8]}@example.com",
        "iat": now,
        "exp": now + 600,
    }
    if target.issuer:
        claims["iss"] = target.issuer
    return jwt.encode(claims, target.jwt_secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({k: v for k, v in GOOD.items() if k != "priceId"}, PRICE, id="no-price"),
        pytest.param({"successUrl": GOOD["successUrl"]}, PRICE, id="price-before-mode"),
        pytest.param({"priceId": "price_x", "mode": "payment"}, URLS, id="no-urls"),
        pytest.param({**GOOD, "cancelUrl": ""}, URLS, id="empty-cancel"),
        pytest.param({k: v for k, v in GOOD.items() if k != "mode"}, MODE, id="no-mode"),
        pytest.param({**GOOD, "mode": "setup"}, MODE, id="bad-mode"),
    ],
)
def test_checkout_400(target: Target, body: dict[str, Any], message: str) -> None:
    """create-checkout answers each documented 400 with its exact message."""
    response = post(target, CHECKOUT, body)
    assert (response.status_code, response.json()) == (400, {"error": message})


def test_portal_401_without_session(target: Target) -> None:
    """create-portal without a session is 401 with the exact message, before body checks."""
    response = post(target, PORTAL, {})
    assert (response.status_code, response.json()) == (401, {"error": NOT_SIGNED_IN})


def test_portal_400_without_return_url(target: Target) -> None:
    """A signed-in create-portal without returnUrl is 400 with the exact message."""
    response = post(target, PORTAL, {}, Authorization=f"Bearer {token(target)}")
    assert (response.status_code, response.json()) == (400, {"error": RETURN})


def test_portal_400_without_billing_account(target: Target) -> None:
    """A new user (no Stripe customer) is told to make a purchase first."""
    response = post(
        target,
        PORTAL,
        {"returnUrl": "https://app.example.com/account"},
        Authorization=f"Bearer {token(target)}",
    )
    assert (response.status_code, response.json()) == (400, {"error": NO_ACCOUNT})


def test_checkout_200(target: Target) -> None:
    """A valid checkout answers 200 with a URL."""
    response = post(target, CHECKOUT, {**GOOD, "priceId": f"price_{uuid.uuid4().hex[:12]}"})
    assert response.status_code == 200
    assert set(response.json()) == {"url"} and response.json()["url"].startswith(("https://", "http://"))
