"""handlers.stripe_events: what each Stripe event changes in a profile, read defensively."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from handlers.ports import PaymentsError, ProfileUpdate
from handlers.stripe_events import Event, NotAnEvent, parse_event, profile_update
from tests.helpers.fakes import FakePayments
from tests.helpers.stripe_events import checkout_session, invoice, subscription

USER = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"


def of(kind: str, obj: dict[str, Any]) -> Event:
    """An event of type `kind` about `obj`, created at 100."""
    return Event("evt_1", kind, 100, obj)


def items(*prices: Any) -> dict[str, Any]:
    """A Stripe list of items, one per price (a price id, an expanded price, or anything else)."""
    return {"object": "list", "data": [{"id": f"si_{n}", "price": price} for n, price in enumerate(prices)]}


# --- parse_event ----------------------------------------------------------------------------------


def test_parse_event_reads_id_type_created_and_object() -> None:
    """A v1 snapshot event gives its id, type, created and data.object."""
    data = event_data(id="evt_9", type="invoice.paid", created=7, data={"object": {"a": 1}})
    assert parse_event(data) == Event("evt_9", "invoice.paid", 7, {"a": 1})


def event_data(**changes: Any) -> dict[str, Any]:
    """A valid event's JSON with `changes` (None removes a field)."""
    data = {"id": "evt_1", "object": "event", "type": "x", "created": 1, "data": {"object": {}}, **changes}
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([], id="array"),
        pytest.param(event_data(object=None), id="no-object"),
        pytest.param(event_data(object="v2.core.event"), id="thin-event"),
        pytest.param(event_data(id=None), id="no-id"),
        pytest.param(event_data(id=""), id="empty-id"),
        pytest.param(event_data(id=1), id="id-int"),
        pytest.param(event_data(type=None), id="no-type"),
        pytest.param(event_data(type=""), id="empty-type"),
        pytest.param(event_data(type=5), id="type-int"),
        pytest.param(event_data(created=None), id="no-created"),
        pytest.param(event_data(created=1.5), id="created-float"),
        pytest.param(event_data(created=False), id="created-false"),
        pytest.param(event_data(data=[]), id="data-array"),
        pytest.param(event_data(data={"object": "x"}), id="object-text"),
    ],
)
def test_parse_event_refuses_what_is_not_an_event(data: Any) -> None:
    """Anything but an object with "event", a non-empty id and type, an int created and data.object."""
    with pytest.raises(NotAnEvent):
        parse_event(data)


# --- checkout.session.completed -------------------------------------------------------------------


def test_checkout_completed_fetches_the_price_stripe_leaves_out() -> None:
    """The session's user, customer, email and the price of its line items, fetched by session id."""
    payments = FakePayments()
    update = profile_update(of("checkout.session.completed", checkout_session("cs_1", USER)), payments)
    assert update == ProfileUpdate(
        "evt_1", 100, USER, "cus_1", "ada@example.com", "price_from_line_items", has_access=True
    )
    assert payments.prices == ["cs_1"]


def test_checkout_completed_with_line_items_takes_the_first_price_and_asks_nothing() -> None:
    """Line items in the event (expanded) are read: the first one's price, expanded or not."""
    payments = FakePayments()
    session = checkout_session("cs_1", USER, line_items=items({"id": "price_a"}, "price_b"))
    update = profile_update(of("checkout.session.completed", session), payments)
    assert update == ProfileUpdate("evt_1", 100, USER, "cus_1", "ada@example.com", "price_a", True)
    assert payments.prices == []


def test_checkout_completed_reads_an_expanded_customer_and_customer_email() -> None:
    """An expanded customer gives its id; without customer_details, customer_email is the email."""
    session = {
        "id": "cs_1",
        "client_reference_id": None,
        "customer": {"id": "cus_9", "object": "customer"},
        "customer_email": "bo@example.com",
    }
    update = profile_update(of("checkout.session.completed", session), FakePayments())
    assert update == ProfileUpdate(
        "evt_1", 100, None, "cus_9", "bo@example.com", "price_from_line_items", True
    )


@pytest.mark.parametrize(
    "details",
    [
        pytest.param({"email": None}, id="no-details-email"),
        pytest.param({"email": ""}, id="empty-details-email"),
        pytest.param({"email": ["ada@example.com"]}, id="details-email-not-text"),
        pytest.param("ada@example.com", id="details-not-an-object"),
    ],
)
def test_checkout_completed_falls_back_to_customer_email(details: Any) -> None:
    """customer_details.email counts only as non-empty text; else the session's customer_email."""
    session = {"id": "cs_1", "customer_details": details, "customer_email": "cy@example.com"}
    update = profile_update(of("checkout.session.completed", session), FakePayments())
    assert update == ProfileUpdate("evt_1", 100, None, None, "cy@example.com", "price_from_line_items", True)


def test_checkout_completed_ignores_values_that_are_not_text() -> None:
    """Numbers, objects without an id and empty strings where ids are expected are "unknown", not data."""
    payments = FakePayments()
    session = {
        "id": 7,
        "client_reference_id": 123,
        "customer": {"object": "customer"},
        "customer_details": {"email": 5},
        "customer_email": "",
        "line_items": items(None),
    }
    update = profile_update(of("checkout.session.completed", session), payments)
    assert update == ProfileUpdate("evt_1", 100, has_access=True)
    assert payments.prices == []


def test_checkout_completed_passes_a_stripe_failure_on() -> None:
    """When the price cannot be fetched the PaymentsError reaches the webhook, which answers 500."""
    payments = FakePayments()
    payments.fail = PaymentsError("The payment provider is unavailable. Please try again.")
    with pytest.raises(PaymentsError):
        profile_update(of("checkout.session.completed", checkout_session("cs_1", USER)), payments)


# --- customer.subscription.* ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "access"),
    [
        pytest.param("customer.subscription.updated", "active", True, id="active"),
        pytest.param("customer.subscription.updated", "trialing", True, id="trialing"),
        pytest.param("customer.subscription.updated", "canceled", False, id="canceled"),
        pytest.param("customer.subscription.updated", "unpaid", False, id="unpaid"),
        pytest.param("customer.subscription.updated", "incomplete_expired", False, id="incomplete-expired"),
        pytest.param("customer.subscription.updated", "past_due", None, id="past-due-leaves-it"),
        pytest.param("customer.subscription.updated", "incomplete", None, id="incomplete-leaves-it"),
        pytest.param("customer.subscription.updated", None, None, id="no-status-leaves-it"),
        pytest.param("customer.subscription.deleted", "active", False, id="deleted-whatever-status"),
    ],
)
def test_subscription_access_follows_the_status(kind: str, status: str | None, access: bool | None) -> None:
    """has_access: granted, revoked, or left (None) by status; a deleted subscription always revokes."""
    obj = {**subscription("x", customer="cus_4", price="price_4"), "status": status}
    assert profile_update(of(kind, obj), FakePayments()) == ProfileUpdate(
        "evt_1", 100, customer_id="cus_4", price_id="price_4", has_access=access
    )


def test_a_subscription_with_several_items_takes_the_first_price() -> None:
    """Of several subscription items, the first one's price is the profile's price."""
    obj = {**subscription("active"), "items": items({"id": "price_first"}, {"id": "price_second"})}
    update = profile_update(of("customer.subscription.updated", obj), FakePayments())
    assert update == ProfileUpdate("evt_1", 100, customer_id="cus_1", price_id="price_first", has_access=True)


@pytest.mark.parametrize(
    "listed",
    [
        pytest.param(None, id="no-items"),
        pytest.param(["price_1"], id="items-not-a-list-object"),
        pytest.param({"object": "list", "data": "price_1"}, id="data-not-a-list"),
        pytest.param({"object": "list", "data": []}, id="no-item"),
        pytest.param({"object": "list", "data": ["price_1"]}, id="item-not-an-object"),
        pytest.param({"object": "list", "data": [{"id": "si_1"}]}, id="item-without-price"),
        pytest.param(items(42), id="price-not-text"),
    ],
)
def test_a_subscription_without_a_readable_price_leaves_the_price(listed: Any) -> None:
    """Items Stripe did not send in the usual shape give no price (None: unchanged), never an error."""
    obj = {**subscription("active"), "items": listed}
    update = profile_update(of("customer.subscription.updated", obj), FakePayments())
    assert update == ProfileUpdate("evt_1", 100, customer_id="cus_1", price_id=None, has_access=True)


# --- invoices and everything else ---------------------------------------------------------------------


@pytest.mark.parametrize("customer", ["cus_1", {"id": "cus_1", "object": "customer"}], ids=["id", "expanded"])
def test_invoice_paid_grants_access_to_the_customer(customer: Any) -> None:
    """invoice.paid: has_access for the invoice's customer, id or expanded object."""
    update = profile_update(of("invoice.paid", {**invoice(), "customer": customer}), FakePayments())
    assert update == ProfileUpdate("evt_1", 100, customer_id="cus_1", has_access=True)


def test_invoice_payment_failed_changes_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """invoice.payment_failed is no change; the warning names event, customer and invoice."""
    with caplog.at_level(logging.INFO, logger="handlers.webhook"):
        assert profile_update(of("invoice.payment_failed", invoice("cus_5")), FakePayments()) is None
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "invoice payment failed event=evt_1 customer=cus_5 invoice=in_1")
    ]


@pytest.mark.parametrize("kind", ["customer.created", "charge.refunded", "checkout.session.expired"])
def test_other_events_change_nothing(kind: str) -> None:
    """Any other type is no change, and Stripe is not asked anything."""
    payments = FakePayments()
    assert profile_update(of(kind, checkout_session("cs_1", USER)), payments) is None
    assert payments.prices == []
