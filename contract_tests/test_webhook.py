"""The Stripe webhook's refusals, replayed over HTTP: nothing unsigned or forged is accepted."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests

from contract_tests.checks import ContractViolation
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
def test_webhook_400(target: Target, signed: bool, message: str, request: pytest.FixtureRequest) -> None:
    """An unsigned or forged event answers 400 with the exact JSON error."""
    payload = forged_event()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["Stripe-Signature"] = forged_signature(payload)

    response = requests.post(f"{target.base_url}{WEBHOOK}", data=payload, headers=headers, timeout=30)

    found = differences(response, 400, {"error": message})
    if found:
        case = f"webhook-{request.node.callspec.id}: POST {WEBHOOK}"
        block = [
            f"{case} ({request.node.callspec.id} event)",
            f"  expected: 400 {json.dumps({'error': message})}",
            f"  actual:   {response.status_code} {response.text[:300]}",
            *(f"  - {line}" for line in found),
        ]
        raise ContractViolation("\n".join(block), f"{case}: {'; '.join(found)}")


def differences(response: requests.Response, status: int, body: dict[str, str]) -> list[str]:
    """Every way `response` differs from `status`, a JSON content-type and exactly `body`."""
    found = []
    if response.status_code != status:
        found.append(f"status: expected {status}, got {response.status_code}")
    content_type = response.headers.get("content-type")
    if not (content_type or "").startswith("application/json"):
        found.append(f"content-type: expected application/json, got {content_type!r}")
    try:
        actual: object = response.json()
    except ValueError:
        actual = response.text[:300]
    if actual != body:
        found.append(f"body: expected {json.dumps(body)}, got {json.dumps(actual)}")
    return found
