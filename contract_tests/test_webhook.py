"""The Stripe webhook's refusals, replayed over HTTP: nothing unsigned or forged is accepted."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests

from contract_tests.deployment import Target

WEBHOOK = "/api/webhook/stripe"


def forged_event() -> bytes:
    """A well-formed event, unique per run, that no deployment's secret signed."""
    event = {
        "id": f"evt_contract_{uuid.uuid4().hex}",
        "object": "event",
        "type": "invoice.paid",
        "created": int(time.time()),
        "data": {"object": {"id": "in_contract", "customer": "cus_contract"}},
    }
    return json.dumps(event).encode()


def forged_signature(payload: bytes) -> str:
    """A current `t=...,v1=...` header made with a secret of our own."""
    now = int(time.time())
    digest = hmac.new(b"whsec_not_the_endpoints", f"{now}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={now},v1={digest}"


@pytest.mark.parametrize(
    ("signed", "message"),
    [
        pytest.param(False, "Missing Stripe-Signature header", id="unsigned"),
        pytest.param(True, "Invalid Stripe signature", id="forged"),
    ],
)
def test_webhook_400(target: Target, signed: bool, message: str) -> None:
    """An unsigned or forged event answers 400 with the exact JSON error."""
    payload = forged_event()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["Stripe-Signature"] = forged_signature(payload)

    response = requests.post(f"{target.base_url}{WEBHOOK}", data=payload, headers=headers, timeout=30)

    assert response.headers["content-type"].startswith("application/json")
    assert (response.status_code, response.json()) == (400, {"error": message})
