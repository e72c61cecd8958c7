"""Stripe-shaped webhook events and their signatures, for tests."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import stripe

WEBHOOK_SECRET = "whsec_test_0123456789abcdef0123456789abcdef"
_ids = itertools.count(1)


def event(kind: str, obj: dict[str, Any], created: int = 1_700_000_000, event_id: str | None = None) -> bytes:
    """The raw body Stripe would POST for an event of type `kind` about `obj`."""
    body = {
        "id": event_id or f"evt_test_{next(_ids):06d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": obj},
    }
    return json.dumps(body).encode()


def checkout_session(
    session_id: str = "cs_test_1",
    user_id: str | None = "user-1",
    customer: str | None = "cus_1",
    email: str | None = "ada@example.com",
    **extra: Any,
) -> dict[str, Any]:
    """A completed Checkout Session as `checkout.session.completed` carries it (no line items)."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "client_reference_id": user_id,
        "customer": customer,
        "customer_details": {"email": email, "name": None},
        "customer_email": None,
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
        "subscription": "sub_1",
        **extra,
    }


def subscription(status: str, customer: str = "cus_1", price: str = "price_2") -> dict[str, Any]:
    """A Subscription as `customer.subscription.*` events carry it."""
    return {
        "id": "sub_1",
        "object": "subscription",
        "customer": customer,
        "status": status,
        "items": {
            "object": "list",
            "data": [
                {"id": "si_1", "object": "subscription_item", "price": {"id": price, "object": "price"}}
            ],
            "has_more": False,
        },
    }


def invoice(customer: str = "cus_1") -> dict[str, Any]:
    """An Invoice as `invoice.*` events carry it."""
    return {"id": "in_1", "object": "invoice", "customer": customer, "customer_email": "ada@example.com"}


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header, made by the stripe SDK's own helper."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, int(time.time()) if timestamp is None else timestamp
    )
    return header
