"""handlers.stripe_events: which parsed JSON is an event, and the ProfileUpdate each event type makes."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.ports import ProfileUpdate
from handlers.stripe_events import Event, NotAnEvent, parse_event, profile_update
from tests.helpers.fakes import FakePayments
from tests.helpers.stripe_events import checkout_session, invoice, subscription


def parsed(kind: str, obj: dict[str, Any]) -> Event:
    """The Event for a v1 event of type `kind` about `obj`, id evt_1, created at 100."""
    return parse_event(
        {"id": "evt_1", "object": "event", "type": kind, "created": 100, "data": {"object": obj}}
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([], id="array"),
        pytest.param({"id": "evt_1", "type": "x", "created": 1, "data": {"object": {}}}, id="no-object"),
        pytest.param({"id": "evt_1", "object": "event", "created": 1, "data": {"object": {}}}, id="no-type"),
        pytest.param(
            {"id": "evt_1", "object": "event", "type": "x", "created": True, "data": {"object": {}}},
            id="bool-created",
        ),
        pytest.param(
            {"id": "evt_1", "object": "event", "type": "x", "created": 1, "data": {}}, id="no-data-object"
        ),
    ],
)
def test_what_is_not_an_event(data: Any) -> None:
    """Anything but a v1 snapshot event with id, type, integer created and data.object is refused."""
    with pytest.raises(NotAnEvent):
        parse_event(data)


def test_checkout_completed_fetches_the_price_only_when_the_event_lacks_it() -> None:
    """The session's reference, customer and email; the price from the line items, else from Stripe."""
    payments = FakePayments()
    fetched = profile_update(parsed("checkout.session.completed", checkout_session("cs_1")), payments)
    items = {"data": [{"price": {"id": "price_inline"}}]}
    inline = profile_update(
        parsed("checkout.session.completed", checkout_session(line_items=items)), payments
    )
    assert fetched == ProfileUpdate(
        "evt_1", 100, "user-1", "cus_1", "ada@example.com", "price_from_line_items", True
    )
    assert inline is not None and inline.price_id == "price_inline"
    assert payments.prices == ["cs_1"]


@pytest.mark.parametrize(
    ("kind", "status", "access"),
    [
        pytest.param("customer.subscription.updated", "active", True, id="active"),
        pytest.param("customer.subscription.updated", "unpaid", False, id="unpaid"),
        pytest.param("customer.subscription.updated", "past_due", None, id="past-due-unchanged"),
        pytest.param("customer.subscription.deleted", "active", False, id="deleted"),
    ],
)
def test_subscription_events(kind: str, status: str, access: bool | None) -> None:
    """Access follows the status (None leaves it), the price follows the first item, found by customer."""
    update = profile_update(parsed(kind, subscription(status)), FakePayments())
    assert update == ProfileUpdate("evt_1", 100, customer_id="cus_1", price_id="price_2", has_access=access)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param(
            "invoice.paid", ProfileUpdate("evt_1", 100, customer_id="cus_1", has_access=True), id="paid"
        ),
        pytest.param("invoice.payment_failed", None, id="payment-failed-logged-only"),
        pytest.param("customer.created", None, id="other-types-ignored"),
    ],
)
def test_invoices_and_other_types(kind: str, expected: ProfileUpdate | None) -> None:
    """invoice.paid grants access; a failed payment and any other type change no profile."""
    assert profile_update(parsed(kind, invoice()), FakePayments()) == expected
