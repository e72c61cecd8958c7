"""What each Stripe event means for a profile: a `ProfileUpdate`; what an event lacks is fetched."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .ports import Payments, ProfileUpdate

log = logging.getLogger("handlers.webhook")

ACCESS_GRANTED = frozenset({"active", "trialing"})
ACCESS_REVOKED = frozenset({"canceled", "unpaid", "incomplete_expired"})


class NotAnEvent(ValueError):
    """The JSON is not a Stripe (v1, snapshot) event (the webhook answers 400 and says no more)."""


@dataclass(frozen=True, slots=True)
class Event:
    """The parts of a Stripe event the service reads."""

    id: str
    type: str
    created: int
    object: Mapping[str, Any]


def parse_event(data: Any) -> Event:
    """The event in parsed JSON; NotAnEvent unless it has object "event", id, type, created, data.object."""
    if not isinstance(data, dict) or data.get("object") != "event":
        raise NotAnEvent
    event_id, kind, created, body = data.get("id"), data.get("type"), data.get("created"), data.get("data")
    if not (isinstance(event_id, str) and event_id and isinstance(kind, str) and kind):
        raise NotAnEvent
    if not isinstance(created, int) or isinstance(created, bool):
        raise NotAnEvent
    if not isinstance(body, dict) or not isinstance(body.get("object"), dict):
        raise NotAnEvent
    return Event(event_id, kind, created, body["object"])


def profile_update(event: Event, payments: Payments) -> ProfileUpdate | None:
    """The change `event` makes to a profile, or None; PaymentsError passes through when Stripe must be
    asked for what the event lacks."""
    if event.type == "checkout.session.completed":
        return _checkout_completed(event, payments)
    if event.type in ("customer.subscription.updated", "customer.subscription.deleted"):
        return _subscription_changed(event)
    if event.type == "invoice.paid":
        return ProfileUpdate(
            event.id, event.created, customer_id=_id(event.object.get("customer")), has_access=True
        )
    if event.type == "invoice.payment_failed":
        # Stripe retries the charge and then updates the subscription; access follows that event.
        log.warning(
            "invoice payment failed event=%s customer=%s invoice=%s",
            event.id,
            _id(event.object.get("customer")),
            _id(event.object.get("id")),
        )
    return None


def _checkout_completed(event: Event, payments: Payments) -> ProfileUpdate:
    session = event.object
    details = session.get("customer_details")
    email = _text(details.get("email")) if isinstance(details, dict) else None
    price = _first_price(session.get("line_items"))
    session_id = _text(session.get("id"))
    if price is None and session_id is not None:
        # Stripe leaves line items out of the event; they are one call away.
        price = payments.checkout_price(session_id)
    return ProfileUpdate(
        event.id,
        event.created,
        user_id=_text(session.get("client_reference_id")),
        customer_id=_id(session.get("customer")),
        email=email or _text(session.get("customer_email")),
        price_id=price,
        has_access=True,
    )


def _subscription_changed(event: Event) -> ProfileUpdate:
    subscription = event.object
    status = subscription.get("status")
    access: bool | None = None
    if event.type == "customer.subscription.deleted" or status in ACCESS_REVOKED:
        access = False
    elif status in ACCESS_GRANTED:
        access = True
    return ProfileUpdate(
        event.id,
        event.created,
        customer_id=_id(subscription.get("customer")),
        price_id=_first_price(subscription.get("items")),
        has_access=access,
    )


def _first_price(items: Any) -> str | None:
    """The price id of the first item of a Stripe list of line or subscription items."""
    if not isinstance(items, dict) or not isinstance(items.get("data"), list) or not items["data"]:
        return None
    first = items["data"][0]
    return _id(first.get("price")) if isinstance(first, dict) else None


def _id(value: Any) -> str | None:
    """An object's id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return _text(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
