"""POST /api/webhook/stripe, and the Stripe-Signature header as Stripe computes it."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from .deps import Deps
from .http import HTTPError, Request, Response
from .ports import PaymentsError, StoreError
from .stripe_events import parse_event, profile_update

log = logging.getLogger("handlers.webhook")

PATH = "/api/webhook/stripe"
NOT_CONFIGURED = "Webhook is not configured"
MISSING_SIGNATURE = "Missing Stripe-Signature header"
BAD_SIGNATURE = "Invalid Stripe signature"
NOT_AN_EVENT = "Request body is not a Stripe event"
# Stripe's default: a signature older than this is a replay, whatever its HMAC.
TOLERANCE_SECONDS = 300


def stripe_webhook(request: Request, deps: Deps) -> Response:
    """Verify a Stripe event, apply it to its profile once, and answer `{"received": true, "outcome": ...}`.

    Schema: -> schemas/webhook.response.json | error.json
    - 500 "Webhook is not configured" (STRIPE_WEBHOOK_SECRET unset outside offline mode; checked first)
    - 400 "Missing Stripe-Signature header" (no or empty header)
    - 400 "Invalid Stripe signature" (bad signature, unreadable header, or a timestamp over 300 s old)
    - 400 "Request body is not a Stripe event" (signed, but not UTF-8 JSON of a v1 event)
    - 500 the payments message when Stripe is asked for line items and fails; "Billing information is
      unavailable right now. Please try again." when the store fails: Stripe retries either
    - 200 {"received": true, "outcome": "applied" | "duplicate" | "stale" | "unmatched" | "ignored"},
      only once the change and the event id are committed
    """
    secret = deps.settings.stripe_webhook_secret
    if not secret:
        log.error(
            "STRIPE_WEBHOOK_SECRET is not set: Stripe events are refused request_id=%s", request.request_id
        )
        raise HTTPError(500, NOT_CONFIGURED)
    verify(request.body, request.header("stripe-signature"), secret)
    try:
        event = parse_event(json.loads(request.body))
    except ValueError:  # NotAnEvent is one too
        raise HTTPError(400, NOT_AN_EVENT) from None
    try:
        update = profile_update(event, deps.payments)
        outcome = "ignored" if update is None else deps.profiles.apply(update)
    except (PaymentsError, StoreError) as exc:
        log.warning(
            "stripe event not applied, Stripe will retry: event=%s type=%s error=%s request_id=%s",
            event.id,
            event.type,
            type(exc).__name__,
            request.request_id,
        )
        raise  # the router answers a port error with its documented 500
    level = logging.WARNING if outcome == "unmatched" else logging.INFO
    log.log(level, "stripe event %s type=%s outcome=%s", event.id, event.type, outcome)
    return Response(200, {"received": True, "outcome": outcome})


def verify(body: bytes, header: str | None, secret: str) -> None:
    """HTTPError 400 unless `header` is Stripe's valid, recent signature of `body` with `secret`."""
    if not header or not header.strip():
        raise HTTPError(400, MISSING_SIGNATURE)
    import stripe  # here, not at the top: importing the service must not import the SDK

    try:
        stripe.WebhookSignature.verify_header(body, header, secret, TOLERANCE_SECONDS)
    except UnicodeDecodeError:
        raise HTTPError(400, NOT_AN_EVENT) from None
    except stripe.SignatureVerificationError as exc:
        # The SDK's wording tells a stale timestamp from a wrong secret; it quotes neither secret nor body.
        log.warning("stripe webhook signature refused: %s", exc.user_message)
        raise HTTPError(400, BAD_SIGNATURE) from None


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` Stripe sends: `t=<unix>,v1=<HMAC-SHA256 of "<t>.<payload>">`."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
