"""Stripe-shaped webhook events and their signatures, and their delivery to an in-process app."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import stripe

from handlers.asgi import App
from handlers.ports import Profiles
from handlers.settings import Settings
from tests.helpers.asgi_client import Result, call
from tests.helpers.fakes import FakePayments, make_router

WEBHOOK_SECRET = "whsec_test_0123456789abcdef0123456789abcdef"
WEBHOOK = "/api/webhook/stripe"
ADA = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"  # profile ids are UUIDs in PostgreSQL
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


def webhook_app(store: Profiles, payments: FakePayments, secret: str | None = WEBHOOK_SECRET) -> App:
    """The app over a real store and fake payments, with `secret` as STRIPE_WEBHOOK_SECRET."""
    return App(make_router(payments, store, Settings(stripe_webhook_secret=secret)), threads=2)


def deliver(app: App, payload: bytes, header: str | None = "") -> Result:
    """POST `payload` as Stripe does; header "" signs it now with the test secret, None sends none."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if header is not None:
        headers["Stripe-Signature"] = header or signature(payload)
    return asyncio.run(call(app, "POST", WEBHOOK, payload, headers))


def applied(outcome: str = "applied") -> dict[str, Any]:
    """The webhook's 200 body for `outcome`."""
    return {"received": True, "outcome": outcome}
