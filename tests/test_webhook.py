"""POST /api/webhook/stripe in-process: signatures, each event's effect, replays, order and failures.

The store is SQLite; tests/e2e/test_webhook_postgres.py runs the same deliveries on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.asgi import App
from handlers.contract import schema_dir
from handlers.http import HTTPError, Request
from handlers.ports import OUTCOMES, PaymentsError, Profile
from handlers.settings import Settings
from handlers.webhook import signature_header, stripe_webhook, verify
from tests.helpers.asgi_client import call, expect
from tests.helpers.fakes import FakePayments, FakeProfiles, make_deps, make_router
from tests.helpers.stripe_events import (
    ADA,
    WEBHOOK,
    WEBHOOK_SECRET,
    applied,
    checkout_session,
    deliver,
    event,
    invoice,
    signature,
    subscription,
    webhook_app,
)

BO = "1f6a3c8e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
CY = "5e3b9d2a-7c1f-4a8e-9b6d-0f2e4c6a8b1d"


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> SQLiteProfiles:
    """An empty SQLite store that gives up on a lock after 0.2 s."""
    store = SQLiteProfiles(tmp_path / "profiles.sqlite3", timeout=0.2)
    store.create()
    return store


@pytest.fixture(name="payments")
def _payments() -> FakePayments:
    return FakePayments()


@pytest.fixture(name="app")
def _app(store: SQLiteProfiles, payments: FakePayments) -> Iterator[App]:
    app = webhook_app(store, payments)
    yield app
    app.executor.shutdown()


def checkout(session_id: str = "cs_test_1", user_id: str | None = ADA, **fields: Any) -> dict[str, Any]:
    """A completed Checkout Session, by default for ADA."""
    return checkout_session(session_id, user_id, **fields)


# --- each event type's effect -------------------------------------------------------------------


def test_checkout_completed_creates_the_users_profile(
    app: App, store: SQLiteProfiles, payments: FakePayments
) -> None:
    """A completed checkout creates the referenced user's profile with customer, line-item price, access."""
    expect(deliver(app, event("checkout.session.completed", checkout("cs_test_9"))), 200, applied())

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_from_line_items", True)
    assert payments.prices == ["cs_test_9"]


def test_checkout_completed_keeps_an_existing_email(app: App, store: SQLiteProfiles) -> None:
    """An existing profile keeps its own email; customer, price and access are set."""
    store.put(Profile(ADA, "own@example.com", None, "price_old", False))

    expect(deliver(app, event("checkout.session.completed", checkout())), 200, applied())

    assert store.get(ADA) == Profile(ADA, "own@example.com", "cus_1", "price_from_line_items", True)


def test_checkout_completed_fills_an_empty_email(app: App, store: SQLiteProfiles) -> None:
    """A profile without an email gets the customer's."""
    store.put(Profile(ADA, None))

    expect(deliver(app, event("checkout.session.completed", checkout())), 200, applied())

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_from_line_items", True)


def test_checkout_line_items_in_the_event_are_not_fetched(
    app: App, store: SQLiteProfiles, payments: FakePayments
) -> None:
    """When the session carries its line items, their price is used and Stripe is not asked."""
    items = {"object": "list", "data": [{"id": "li_1", "price": {"id": "price_inline"}}]}
    session = checkout(line_items=items)

    expect(deliver(app, event("checkout.session.completed", session)), 200, applied())

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_inline", True)
    assert payments.prices == []


def test_checkout_without_reference_finds_the_profile_by_email(app: App, store: SQLiteProfiles) -> None:
    """Without client_reference_id the profile whose email is the customer's (any case) is updated."""
    store.put(Profile(BO, "Bo@Example.com"))
    session = checkout(user_id=None, customer="cus_7", email="bo@example.COM")

    expect(deliver(app, event("checkout.session.completed", session)), 200, applied())

    assert store.get(BO) == Profile(BO, "Bo@Example.com", "cus_7", "price_from_line_items", True)


def test_checkout_email_falls_back_to_customer_email(app: App, store: SQLiteProfiles) -> None:
    """With no customer_details email, the session's customer_email finds the profile."""
    store.put(Profile(CY, "cy@example.com"))
    session = checkout(user_id=None, customer="cus_8", email=None, customer_email="cy@example.com")

    expect(deliver(app, event("checkout.session.completed", session)), 200, applied())

    assert store.get(CY) == Profile(CY, "cy@example.com", "cus_8", "price_from_line_items", True)


def test_checkout_with_neither_reference_nor_email_is_recorded_and_logged(
    app: App, store: SQLiteProfiles, caplog: pytest.LogCaptureFixture
) -> None:
    """No client_reference_id and no email: 200 "unmatched", logged, no profile; a replay is a duplicate."""
    store.put(Profile(ADA, "ada@example.com"))
    payload = event("checkout.session.completed", checkout(user_id=None, customer="cus_x", email=None))

    with caplog.at_level(logging.INFO, logger="handlers.webhook"):
        expect(deliver(app, payload), 200, applied("unmatched"))
    expect(deliver(app, payload), 200, applied("duplicate"))

    assert store.get(ADA) == Profile(ADA, "ada@example.com")
    event_id = json.loads(payload)["id"]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"stripe event {event_id} type=checkout.session.completed outcome=unmatched")
    ]


@pytest.mark.parametrize(
    ("kind", "status", "access"),
    [
        pytest.param("customer.subscription.updated", "active", True, id="updated-active"),
        pytest.param("customer.subscription.updated", "trialing", True, id="updated-trialing"),
        pytest.param("customer.subscription.updated", "canceled", False, id="updated-canceled"),
        pytest.param("customer.subscription.updated", "unpaid", False, id="updated-unpaid"),
        pytest.param("customer.subscription.updated", "incomplete_expired", False, id="updated-expired"),
        pytest.param("customer.subscription.updated", "past_due", None, id="updated-past-due-unchanged"),
        pytest.param("customer.subscription.deleted", "canceled", False, id="deleted"),
        pytest.param("customer.subscription.deleted", "active", False, id="deleted-whatever-status"),
    ],
)
@pytest.mark.parametrize("before", [True, False], ids=["had-access", "had-none"])
def test_subscription_events_set_access_and_price(
    app: App, store: SQLiteProfiles, kind: str, status: str, access: bool | None, before: bool
) -> None:
    """has_access follows the subscription status (None: unchanged); price_id follows its price."""
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", before))

    expect(deliver(app, event(kind, subscription(status, price="price_2"))), 200, applied())

    expected = before if access is None else access
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_2", expected)


def test_subscription_of_an_unknown_customer_is_unmatched(app: App, store: SQLiteProfiles) -> None:
    """A subscription whose customer no profile holds changes nothing and answers "unmatched"."""
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", True))

    payload = event("customer.subscription.deleted", subscription("canceled", customer="cus_other"))
    expect(deliver(app, payload), 200, applied("unmatched"))

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_1", True)


def test_invoice_paid_grants_access(app: App, store: SQLiteProfiles) -> None:
    """invoice.paid sets has_access for the customer's profile and leaves the rest."""
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", False))

    expect(deliver(app, event("invoice.paid", invoice())), 200, applied())

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_1", True)


def test_invoice_payment_failed_is_logged_only(
    app: App, store: SQLiteProfiles, caplog: pytest.LogCaptureFixture
) -> None:
    """invoice.payment_failed answers 200 "ignored", changes nothing, and logs the customer and invoice."""
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", True))
    payload = event("invoice.payment_failed", invoice(), event_id="evt_failed_1")

    with caplog.at_level(logging.INFO, logger="handlers.webhook"):
        expect(deliver(app, payload), 200, applied("ignored"))

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_1", True)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "invoice payment failed event=evt_failed_1 customer=cus_1 invoice=in_1"),
        ("INFO", "stripe event evt_failed_1 type=invoice.payment_failed outcome=ignored"),
    ]


@pytest.mark.parametrize("kind", ["customer.created", "payment_intent.succeeded", "charge.refunded"])
def test_other_event_types_are_ignored(
    app: App, store: SQLiteProfiles, payments: FakePayments, kind: str
) -> None:
    """Any other type answers 200 "ignored" and touches neither store nor Stripe."""
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", True))

    expect(deliver(app, event(kind, {"id": "x_1", "customer": "cus_1"})), 200, applied("ignored"))

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_1", True)
    assert payments.prices == []


# --- at least once, out of order ----------------------------------------------------------------


def test_a_replayed_event_is_applied_once(app: App, store: SQLiteProfiles) -> None:
    """Redelivering an applied event answers "duplicate" and does not undo what came after it."""
    granted = event("customer.subscription.updated", subscription("active"), created=100)
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", False))
    expect(deliver(app, granted), 200, applied())
    expect(
        deliver(app, event("customer.subscription.deleted", subscription("canceled"), 200)), 200, applied()
    )

    expect(deliver(app, granted), 200, applied("duplicate"))

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_2", False)


def test_an_older_event_after_a_newer_one_leaves_the_newer_state(app: App, store: SQLiteProfiles) -> None:
    """An event created before the last applied one answers "stale" and changes nothing."""
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", True))
    newer = event("customer.subscription.deleted", subscription("canceled", price="price_new"), created=200)
    older = event("customer.subscription.updated", subscription("active", price="price_old"), created=100)

    expect(deliver(app, newer), 200, applied())
    expect(deliver(app, older), 200, applied("stale"))

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_new", False)


def test_checkout_then_older_subscription_event_is_stale(app: App, store: SQLiteProfiles) -> None:
    """Order is per profile across event types: a checkout at t=300 outranks a cancellation at t=250."""
    expect(deliver(app, event("checkout.session.completed", checkout(), created=300)), 200, applied())
    late = event("customer.subscription.deleted", subscription("canceled"), created=250)

    expect(deliver(app, late), 200, applied("stale"))

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_from_line_items", True)


# --- failures answer 500, so Stripe retries, and the retry is applied -------------------------------


def test_store_failure_is_500_and_the_redelivery_is_applied(
    app: App, store: SQLiteProfiles, tmp_path: Path
) -> None:
    """While the SQLite file is locked the event answers 500; delivered again later, it is applied."""
    payload = event("checkout.session.completed", checkout())
    with closing(sqlite3.connect(tmp_path / "profiles.sqlite3", isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        failed = deliver(app, payload)
        other.execute("ROLLBACK")

    expect(failed, 500, {"error": "Billing information is unavailable right now. Please try again."})
    assert store.get(ADA) is None
    expect(deliver(app, payload), 200, applied())
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_from_line_items", True)


def test_stripe_failure_is_500_and_the_redelivery_is_applied(
    app: App, store: SQLiteProfiles, payments: FakePayments
) -> None:
    """When the line items cannot be fetched the event answers 500 with nothing stored; later it applies."""
    payload = event("checkout.session.completed", checkout("cs_test_retry"))
    payments.fail = PaymentsError("The payment provider is unavailable. Please try again.")

    expect(deliver(app, payload), 500, {"error": "The payment provider is unavailable. Please try again."})
    assert store.get(ADA) is None

    payments.fail = None
    expect(deliver(app, payload), 200, applied())
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_from_line_items", True)
    assert payments.prices == ["cs_test_retry", "cs_test_retry"]


# --- what is refused ----------------------------------------------------------------------------

GOOD = event("invoice.paid", invoice())


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(None, "Missing Stripe-Signature header", id="unsigned"),
        pytest.param("  ", "Missing Stripe-Signature header", id="blank-header"),
        pytest.param(signature(GOOD, "whsec_another_secret"), "Invalid Stripe signature", id="wrong-secret"),
        pytest.param(
            signature(GOOD, timestamp=int(time.time()) - 301),
            "Invalid Stripe signature",
            id="stale-timestamp",
        ),
        pytest.param(signature(GOOD + b" "), "Invalid Stripe signature", id="body-changed-after-signing"),
        pytest.param("garbage", "Invalid Stripe signature", id="unreadable-header"),
        pytest.param(signature(GOOD).replace("v1=", "v0="), "Invalid Stripe signature", id="no-v1-signature"),
    ],
)
def test_bad_signatures_are_400(app: App, store: SQLiteProfiles, header: str | None, message: str) -> None:
    """Unsigned, wrongly signed, stale or altered events answer 400 and change nothing."""
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", False))

    expect(deliver(app, GOOD, header), 400, {"error": message})

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_1", False)


def test_a_recent_signature_among_several_passes(app: App) -> None:
    """A header with an old and a current v1 signature (as during secret rotation) is accepted."""
    header = signature(GOOD, "whsec_rolled_secret") + "," + signature(GOOD).split(",")[1]

    expect(deliver(app, GOOD, header), 200, applied("unmatched"))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b'{"id": "evt_1", "type": "invoice.paid"}', id="no-object-event"),
        pytest.param(
            b'{"id": "evt_1", "object": "v2.core.event", "type": "x", "created": 1, "data": {"object": {}}}',
            id="thin-event",
        ),
        pytest.param(
            b'{"id": "evt_1", "object": "event", "created": 1, "data": {"object": {}}}', id="no-type"
        ),
        pytest.param(
            b'{"id": "", "object": "event", "type": "invoice.paid", "created": 1, "data": {"object": {}}}',
            id="empty-id",
        ),
        pytest.param(
            b'{"id": "evt_1", "object": "event", "type": "x", "created": "1", "data": {"object": {}}}',
            id="created-string",
        ),
        pytest.param(
            b'{"id": "evt_1", "object": "event", "type": "x", "created": true, "data": {"object": {}}}',
            id="created-bool",
        ),
        pytest.param(
            b'{"id": "evt_1", "object": "event", "type": "x", "created": 1, "data": {}}', id="no-data"
        ),
    ],
)
def test_signed_bodies_that_are_not_events_are_400(app: App, payload: bytes) -> None:
    """A correctly signed body that is not a Stripe event answers 400."""
    header = stripe_header_for_bytes(payload)

    expect(deliver(app, payload, header), 400, {"error": "Request body is not a Stripe event"})


def stripe_header_for_bytes(payload: bytes) -> str:
    """A valid signature of any bytes (the SDK's helper needs text; this is the same HMAC)."""
    return signature_header(payload, WEBHOOK_SECRET, int(time.time()))


def test_signature_header_matches_the_sdk() -> None:
    """Our signer produces exactly the header the stripe SDK's helper does."""
    assert signature_header(GOOD, WEBHOOK_SECRET, 1_700_000_123) == signature(GOOD, timestamp=1_700_000_123)


def test_unconfigured_secret_is_500(store: SQLiteProfiles, payments: FakePayments) -> None:
    """Without STRIPE_WEBHOOK_SECRET (outside offline mode) every event answers 500, so Stripe retries."""
    app = webhook_app(store, payments, secret=None)

    expect(deliver(app, GOOD), 500, {"error": "Webhook is not configured"})


def test_get_is_405(app: App) -> None:
    """Only POST is routed."""
    result = asyncio.run(call(app, "GET", WEBHOOK))

    expect(result, 405, {"error": "Method not allowed"})
    assert result.headers["allow"] == "POST"


def test_importing_the_webhook_does_not_import_stripe() -> None:
    """The SDK is imported on the first delivery, not when the service is imported."""
    code = "import sys, handlers.app, handlers.webhook; print('stripe' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert done.stdout.strip() == "False"


def test_the_outcomes_are_the_documented_ones() -> None:
    """What a store may answer, plus "ignored", is exactly the schema's list of outcomes."""
    schema = json.loads((schema_dir() / "webhook.response.json").read_text("utf-8"))
    assert [*OUTCOMES, "ignored"] == schema["properties"]["outcome"]["enum"]


# --- a body the SDK cannot read as text is never taken as verified ------------------------------------

# json.loads reads UTF-16 with a byte-order mark; the SDK decodes the body as UTF-8 before it checks the
# signature, so this body reaches neither the HMAC nor the tolerance check.
UTF16_EVENT = event("invoice.paid", invoice()).decode().encode("utf-16")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("t=1,v1=deadbeef", id="unsigned"),
        pytest.param(signature_header(UTF16_EVENT, "whsec_not_the_endpoints", 1_700_000_000), id="forged"),
    ],
)
def test_an_event_in_utf16_is_refused_and_grants_nothing(
    app: App, store: SQLiteProfiles, header: str
) -> None:
    """An unsigned or forged UTF-16 event answers 400 and leaves the customer without access."""
    store.put(Profile(ADA, "ada@example.com", "cus_1", "price_1", False))

    expect(deliver(app, UTF16_EVENT, header), 400, {"error": "Request body is not a Stripe event"})

    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_1", False)


def test_verify_refuses_a_body_that_is_not_utf8_whatever_its_header() -> None:
    """verify() itself raises the 400: the body is never treated as checked."""
    with pytest.raises(HTTPError) as caught:
        verify(UTF16_EVENT, "t=1,v1=deadbeef", WEBHOOK_SECRET)
    assert (caught.value.status, caught.value.message) == (400, "Request body is not a Stripe event")


NOW = 1_800_000_000


@pytest.fixture(name="frozen")
def _frozen(monkeypatch: pytest.MonkeyPatch) -> int:
    """time.time() stopped at NOW, so that a signature's age is exact."""
    monkeypatch.setattr(time, "time", lambda: float(NOW))
    return NOW


def test_a_signature_300_seconds_old_passes_and_301_does_not(
    frozen: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Stripe's tolerance, exactly: 300 s old is accepted, 301 s is a replay, and the log says which."""
    verify(GOOD, signature_header(GOOD, WEBHOOK_SECRET, frozen - 300), WEBHOOK_SECRET)

    with pytest.raises(HTTPError) as caught:
        verify(GOOD, signature_header(GOOD, WEBHOOK_SECRET, frozen - 301), WEBHOOK_SECRET)

    assert (caught.value.status, caught.value.message) == (400, "Invalid Stripe signature")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            f"stripe webhook signature refused: Timestamp outside the tolerance zone ({frozen - 301})",
        )
    ]


def test_a_missing_secret_is_logged_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    """Unconfigured, every event is a 500 and an error in the log naming the variable, not a value."""
    deps = make_deps(settings=Settings(stripe_webhook_secret=None))
    request = Request("POST", WEBHOOK, (("stripe-signature", signature(GOOD)),), GOOD, request_id="req-7")

    with pytest.raises(HTTPError) as caught:
        stripe_webhook(request, deps)

    assert (caught.value.status, caught.value.message) == (500, "Webhook is not configured")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "STRIPE_WEBHOOK_SECRET is not set: Stripe events are refused request_id=req-7")
    ]


@pytest.mark.parametrize(
    ("payload", "fail", "error", "message"),
    [
        pytest.param(
            event("checkout.session.completed", checkout(), event_id="evt_retry_1"),
            True,
            "PaymentsError",
            "The payment provider is unavailable. Please try again.",
            id="stripe",
        ),
        pytest.param(
            event("invoice.paid", invoice(), event_id="evt_retry_1"),
            False,
            "StoreError",
            "Billing information is unavailable right now. Please try again.",
            id="store",
        ),
    ],
)
def test_an_event_not_applied_is_logged_for_the_retry(
    caplog: pytest.LogCaptureFixture, payload: bytes, fail: bool, error: str, message: str
) -> None:
    """A failure to apply is a 500 and one warning with the event, its type, the error class, the request."""
    payments = FakePayments()
    if fail:
        payments.fail = PaymentsError(message)
    router = make_router(payments, FakeProfiles(), Settings(stripe_webhook_secret=WEBHOOK_SECRET))
    kind = json.loads(payload)["type"]
    request = Request("POST", WEBHOOK, (("stripe-signature", signature(payload)),), payload, request_id="r-1")

    response = router.dispatch(request)

    assert (response.status, response.body) == (500, {"error": message})
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            f"stripe event not applied, Stripe will retry: event=evt_retry_1 type={kind} error={error}"
            " request_id=r-1",
        )
    ]
