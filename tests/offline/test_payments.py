"""handlers.offline.payments: the stand-in's sessions, prices and completed events."""

from __future__ import annotations

import re
from typing import Any

import pytest

from handlers.offline.payments import MemorySessions, OfflinePayments, completed_event
from handlers.ports import PortalNotConfigured, UnknownCustomer

PARAMS = {
    "mode": "payment",
    "line_items": [{"price": "price_pro", "quantity": 1}],
    "success_url": "https://app.example.com/ok",
    "cancel_url": "https://app.example.com/no",
    "client_reference_id": "user-1",
    "customer_email": "ada@example.com",
}


def test_checkout_price_is_the_sessions_first_price() -> None:
    """The stand-in answers the price the session was created with; unknown sessions have none."""
    stand_in = OfflinePayments("http://127.0.0.1:8000")
    session_id = stand_in.create_checkout_session(PARAMS, "key-1").rsplit("/", 1)[1]

    assert stand_in.checkout_price(session_id) == "price_pro"
    assert stand_in.checkout_price("cs_offline_unknown") is None


def paid(stand_in: OfflinePayments, session_id: str, email: str | None, created: int) -> dict[str, Any]:
    """The event Stripe would send once the stand-in's session `session_id` is paid."""
    session = stand_in.sessions.checkout(session_id)
    assert session is not None
    return completed_event(session, email, created)


def test_completed_event_in_payment_mode() -> None:
    """Payment mode: no subscription; the customer is stable per user."""
    stand_in = OfflinePayments("http://127.0.0.1:8000")
    session_id = stand_in.create_checkout_session(PARAMS, "key-1").rsplit("/", 1)[1]

    event = paid(stand_in, session_id, "typed@example.com", 1_800_000_000)
    again = paid(stand_in, session_id, None, 1_800_000_001)

    assert event["created"] == 1_800_000_000 and event["id"] != again["id"]
    obj = event["data"]["object"]
    assert obj["subscription"] is None
    assert obj["customer_details"] == {"email": "ada@example.com"}  # the session's email wins
    assert re.fullmatch(r"cus_offline_[0-9a-f]{24}", obj["customer"])
    assert again["data"]["object"]["customer"] == obj["customer"]


def test_completed_event_keeps_a_returning_customer() -> None:
    """A session created for an existing customer completes as that customer."""
    stand_in = OfflinePayments("http://127.0.0.1:8000")
    params = {k: v for k, v in PARAMS.items() if k != "customer_email"} | {"customer": "cus_existing"}
    session_id = stand_in.create_checkout_session(params, "key-2").rsplit("/", 1)[1]

    event = paid(stand_in, session_id, None, 1)

    assert event["data"]["object"]["customer"] == "cus_existing"


def test_mark_complete_is_seen_by_readers() -> None:
    """After mark_complete the session reads as complete; an unknown id is ignored."""
    stand_in = OfflinePayments("http://127.0.0.1:8000")
    session_id = stand_in.create_checkout_session(PARAMS, "key-1").rsplit("/", 1)[1]

    stand_in.sessions.complete(session_id)
    stand_in.sessions.complete("cs_offline_unknown")

    session = stand_in.sessions.checkout(session_id)
    assert session is not None and session["status"] == "complete"


def test_a_missing_customer_is_unknown_at_checkout_and_portal() -> None:
    """`cus_missing...` is refused as Stripe refuses a deleted customer; other customers are served."""
    sessions = MemorySessions()
    stand_in = OfflinePayments("http://127.0.0.1:8000", sessions=sessions)
    with pytest.raises(UnknownCustomer) as checkout:
        stand_in.create_checkout_session({**PARAMS, "customer": "cus_missing_1"}, "key-1")
    with pytest.raises(UnknownCustomer) as portal:
        stand_in.create_portal_session("cus_missing_2", "https://app.example.com/account")

    assert checkout.value.message == "No such customer: 'cus_missing_1'"
    assert portal.value.message == "No such customer: 'cus_missing_2'"
    assert sessions.checkouts == {} and sessions.portals == {}
    assert stand_in.create_portal_session("cus_offline_1", "https://app.example.com/account").startswith(
        "http://127.0.0.1:8000/offline/portal/bps_offline_"
    )


def test_a_missing_portal_configuration_cannot_open(caplog: pytest.LogCaptureFixture) -> None:
    """STRIPE_PORTAL_CONFIGURATION=bpc_missing... is a portal that cannot open: a safe error, one warning."""
    stand_in = OfflinePayments("http://127.0.0.1:8000", portal_configuration="bpc_missing_1")

    with pytest.raises(PortalNotConfigured) as caught:
        stand_in.create_portal_session("cus_offline_1", "https://app.example.com/account")

    assert caught.value.message == "The billing portal is not available yet. Please contact support."
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "STRIPE_PORTAL_CONFIGURATION" in caplog.records[0].getMessage()


def test_a_portal_configuration_is_remembered_with_the_session() -> None:
    """Any other configuration opens, and the session records it as Stripe's would."""
    stand_in = OfflinePayments("http://127.0.0.1:8000", portal_configuration="bpc_1Abc")
    url = stand_in.create_portal_session("cus_offline_1", "https://app.example.com/account")
    assert stand_in.sessions.portal(url.rsplit("/", 1)[1]) == {
        "customer": "cus_offline_1",
        "return_url": "https://app.example.com/account",
        "configuration": "bpc_1Abc",
    }


def test_links_are_built_on_the_requests_origin_within_links_at() -> None:
    """Inside links_at(origin) links use that origin; outside it, or with None, the base URL."""
    stand_in = OfflinePayments("http://fallback.test")

    with stand_in.links_at("https://billing.example.com"):
        inside = stand_in.create_checkout_session(PARAMS, "key-1")
        portal = stand_in.create_portal_session("cus_1", "https://app.example.com/account")
    with stand_in.links_at(None):
        unknown = stand_in.create_checkout_session(PARAMS, "key-2")
    outside = stand_in.create_checkout_session(PARAMS, "key-3")

    assert inside.startswith("https://billing.example.com/offline/checkout/cs_offline_")
    assert portal == "https://billing.example.com/offline/portal/bps_offline_1"
    assert unknown.startswith("http://fallback.test/offline/checkout/")
    assert outside.startswith("http://fallback.test/offline/checkout/")


def test_a_checkout_session_expires_a_day_after_it_was_made() -> None:
    """Each session records expires_at, 24 hours after the stand-in's clock at creation."""
    stand_in = OfflinePayments(clock=lambda: 1_800_000_000.5)
    session_id = stand_in.create_checkout_session(PARAMS, "key-1").rsplit("/", 1)[1]

    session = stand_in.sessions.checkout(session_id)

    assert session is not None and session["expires_at"] == 1_800_000_000 + 24 * 3600


def session_of(url: str) -> str:
    """The session id at the end of a stand-in URL."""
    return url.rsplit("/", 1)[1]


def test_the_completed_event_is_shaped_as_stripes() -> None:
    """Every field the webhook and a reader of Stripe's events look at, as Stripe sends them in test mode."""
    stand_in = OfflinePayments("http://127.0.0.1:8000")
    session_id = session_of(stand_in.create_checkout_session(PARAMS, "key-1"))

    event = paid(stand_in, session_id, None, 1_800_000_000)

    assert re.fullmatch(r"evt_offline_[0-9a-f]{24}", event.pop("id"))
    completed = event["data"]["object"]
    customer = completed.pop("customer")
    assert re.fullmatch(r"cus_offline_[0-9a-f]{24}", customer)
    assert event == {
        "object": "event",
        "type": "checkout.session.completed",
        "created": 1_800_000_000,
        "livemode": False,
        "pending_webhooks": 1,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "client_reference_id": "user-1",
                "customer_details": {"email": "ada@example.com"},
                "customer_email": "ada@example.com",
                "mode": "payment",
                "payment_status": "paid",
                "status": "complete",
                "subscription": None,
                "success_url": "https://app.example.com/ok",
                "cancel_url": "https://app.example.com/no",
                "livemode": False,
            }
        },
    }


def test_one_customer_per_user_else_per_email_else_per_session() -> None:
    """The same user (whatever email) or the same email (signed out) pays as one customer, as on Stripe."""
    stand_in = OfflinePayments("http://127.0.0.1:8000")

    def customer(key: str, **params: str) -> str:
        base = {k: v for k, v in PARAMS.items() if k not in ("client_reference_id", "customer_email")}
        session_id = session_of(stand_in.create_checkout_session(base | params, key))
        event = paid(stand_in, session_id, None, 1)
        return str(event["data"]["object"]["customer"])

    by_user = customer("k1", client_reference_id="user-1", customer_email="a@example.com")
    assert customer("k2", client_reference_id="user-1", customer_email="b@example.com") == by_user
    by_email = customer("k3", customer_email="c@example.com")
    assert customer("k4", customer_email="c@example.com") == by_email != by_user
    assert customer("k5") != customer("k6")


def test_session_ids_and_urls() -> None:
    """cs_offline_ and 24 hex digits, one per idempotency key; portals count up; one slash before the path."""
    stand_in = OfflinePayments("http://127.0.0.1:8000/")
    url = stand_in.create_checkout_session(PARAMS, "key-1")
    session_id = session_of(url)
    assert re.fullmatch(r"cs_offline_[0-9a-f]{24}", session_id)
    assert url == f"http://127.0.0.1:8000/offline/checkout/{session_id}"
    assert stand_in.create_checkout_session(PARAMS, "key-1") == url
    assert stand_in.create_checkout_session(PARAMS, None) != stand_in.create_checkout_session(PARAMS, None)
    checkout = stand_in.sessions.checkout(session_id)
    assert checkout is not None and checkout["id"] == session_id
    portals = [stand_in.create_portal_session("cus_1", "https://app.example.com/a") for _ in range(2)]
    assert portals == [
        "http://127.0.0.1:8000/offline/portal/bps_offline_1",
        "http://127.0.0.1:8000/offline/portal/bps_offline_2",
    ]


def test_the_unsaved_portal_warning_says_what_to_do(caplog: pytest.LogCaptureFixture) -> None:
    """The one warning, word for word."""
    stand_in = OfflinePayments("http://127.0.0.1:8000", portal_configuration="bpc_missing_1")
    with pytest.raises(PortalNotConfigured):
        stand_in.create_portal_session("cus_offline_1", "https://app.example.com/account")
    assert [r.getMessage() for r in caplog.records] == [
        "offline: STRIPE_PORTAL_CONFIGURATION is bpc_missing..., a customer portal the stand-in cannot open,"
        " as Stripe cannot open one never saved in its dashboard: unset it for the offline portal"
    ]


def test_without_a_key_each_session_is_new_and_shaped_alike() -> None:
    """No idempotency key: a fresh cs_offline_ id of 24 hex digits, on http://localhost by default."""
    stand_in = OfflinePayments()

    urls = [stand_in.create_checkout_session(PARAMS, None) for _ in range(2)]

    assert urls[0] != urls[1]
    for url in urls:
        assert re.fullmatch(r"http://localhost/offline/checkout/cs_offline_[0-9a-f]{24}", url)


@pytest.mark.parametrize(
    "line_items",
    [pytest.param([{"quantity": 1}], id="item-without-price"), pytest.param([], id="no-items")],
)
def test_a_session_without_a_price_has_none(line_items: list[dict[str, int]]) -> None:
    """No price to report is None, not the text "None"."""
    stand_in = OfflinePayments()
    session_id = session_of(stand_in.create_checkout_session({**PARAMS, "line_items": line_items}, "key-1"))

    assert stand_in.checkout_price(session_id) is None


def test_a_base_url_keeps_its_path_without_the_trailing_slashes() -> None:
    """Only the slashes at the end of base_url go: what comes before them is kept, letter for letter."""
    stand_in = OfflinePayments("http://127.0.0.1:8000/X//")

    url = stand_in.create_portal_session("cus_1", "https://app.example.com/a")

    assert url == "http://127.0.0.1:8000/X/offline/portal/bps_offline_1"
