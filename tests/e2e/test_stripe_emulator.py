"""The project's Stripe emulator answers Checkout's unknown prices the way Stripe does."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import requests

from contract_tests.deployment import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from stripe_emulator import StripeEmulator

KEY = "sk_test_emulator0123456789"


@pytest.fixture(name="emulator", scope="module")
def _emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


def create_checkout(emulator: StripeEmulator, price: str) -> requests.Response:
    """POST /v1/checkout/sessions as the stripe SDK sends it, with one line item."""
    form = {
        "mode": "payment",
        "line_items[0][price]": price,
        "line_items[0][quantity]": "1",
        "success_url": "https://app.example.com/done",
        "cancel_url": "https://app.example.com/pricing",
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    return requests.post(f"{emulator.url}/v1/checkout/sessions", data=form, headers=headers, timeout=10)


@pytest.mark.parametrize("price", ["price_missing_1", "price_contract_missing_0123abcd"])
def test_an_unknown_price_is_stripes_resource_missing(emulator: StripeEmulator, price: str) -> None:
    """400 with Stripe's error object: type, code, param and "No such price: '<id>'"."""
    response = create_checkout(emulator, price)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "line_items[0][price]",
            "message": f"No such price: '{price}'",
        }
    }


@pytest.mark.parametrize("price", ["price_123", "price_contract_0123abcd", "price_1PmissingNot"])
def test_any_other_price_is_in_the_catalogue(emulator: StripeEmulator, price: str) -> None:
    """Every other `price_...` id creates a session, so tests may name any price they like."""
    response = create_checkout(emulator, price)
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
