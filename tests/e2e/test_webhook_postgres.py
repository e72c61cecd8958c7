"""POST /api/webhook/stripe in-process over the throwaway PostgreSQL: the deliveries of tests/test_webhook.py.

Each case seeds profiles, delivers events in order, and checks every answer and the profile after.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from handlers.adapters.postgres_profiles import PostgresProfiles
from handlers.ports import Profile
from tests.helpers.asgi_client import expect
from tests.helpers.fakes import FakePayments
from tests.helpers.postgres import SupabaseDatabase
from tests.helpers.stores import empty_store, supabase_store
from tests.helpers.stripe_events import (
    ADA,
    applied,
    checkout_session,
    deliver,
    event,
    invoice,
    subscription,
    webhook_app,
)

# Only PostgreSQL besides the code: scripts/mutate runs these against its one server.
pytestmark = pytest.mark.postgres

BO = "1f6a3c8e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
PRICE = "price_from_line_items"
STORE_UNAVAILABLE = {"error": "Billing information is unavailable right now. Please try again."}


def checkout(user_id: str | None = ADA, **fields: Any) -> dict[str, Any]:
    """A completed Checkout Session, by default for ADA."""
    return checkout_session("cs_test_1", user_id, **fields)


@dataclass(frozen=True)
class Case:
    """Profiles before, events delivered in order with the outcome each answers, and a profile after."""

    seeded: tuple[Profile, ...]
    deliveries: tuple[tuple[bytes, str], ...]
    after: Profile | None
    profile_id: str = ADA


GRANTED = event("customer.subscription.updated", subscription("active"), created=100)
UNMATCHED = event("checkout.session.completed", checkout(None, customer="cus_x", email=None))
CASES = {
    "checkout-creates-the-profile": Case(
        (),
        ((event("checkout.session.completed", checkout()), "applied"),),
        Profile(ADA, "ada@example.com", "cus_1", PRICE, True),
    ),
    "checkout-keeps-an-existing-email": Case(
        (Profile(ADA, "own@example.com", None, "price_old", False),),
        ((event("checkout.session.completed", checkout()), "applied"),),
        Profile(ADA, "own@example.com", "cus_1", PRICE, True),
    ),
    "checkout-found-by-email-any-case": Case(
        (Profile(BO, "Bo@Example.com"),),
        (
            (
                event("checkout.session.completed", checkout(None, customer="cus_7", email="bo@example.COM")),
                "applied",
            ),
        ),
        Profile(BO, "Bo@Example.com", "cus_7", PRICE, True),
        BO,
    ),
    "checkout-with-no-user-and-no-email-is-unmatched-once": Case(
        (Profile(ADA, "ada@example.com"),),
        ((UNMATCHED, "unmatched"), (UNMATCHED, "duplicate")),
        Profile(ADA, "ada@example.com"),
    ),
    "subscription-canceled-revokes-and-follows-the-price": Case(
        (Profile(ADA, "ada@example.com", "cus_1", "price_1", True),),
        ((event("customer.subscription.updated", subscription("canceled", price="price_2")), "applied"),),
        Profile(ADA, "ada@example.com", "cus_1", "price_2", False),
    ),
    "subscription-past-due-leaves-access": Case(
        (Profile(ADA, "ada@example.com", "cus_1", "price_1", True),),
        ((event("customer.subscription.updated", subscription("past_due")), "applied"),),
        Profile(ADA, "ada@example.com", "cus_1", "price_2", True),
    ),
    "subscription-of-an-unknown-customer-is-unmatched": Case(
        (Profile(ADA, "ada@example.com", "cus_1", "price_1", True),),
        (
            (
                event("customer.subscription.deleted", subscription("canceled", customer="cus_other")),
                "unmatched",
            ),
        ),
        Profile(ADA, "ada@example.com", "cus_1", "price_1", True),
    ),
    "invoice-paid-grants-access": Case(
        (Profile(ADA, "ada@example.com", "cus_1", "price_1", False),),
        ((event("invoice.paid", invoice()), "applied"),),
        Profile(ADA, "ada@example.com", "cus_1", "price_1", True),
    ),
    "a-replay-is-applied-once": Case(
        (Profile(ADA, "ada@example.com", "cus_1", "price_1", False),),
        (
            (GRANTED, "applied"),
            (event("customer.subscription.deleted", subscription("canceled"), created=200), "applied"),
            (GRANTED, "duplicate"),
        ),
        Profile(ADA, "ada@example.com", "cus_1", "price_2", False),
    ),
    "an-older-event-is-stale": Case(
        (Profile(ADA, "ada@example.com", "cus_1", "price_1", True),),
        (
            (
                event(
                    "customer.subscription.deleted", subscription("canceled", price="price_new"), created=200
                ),
                "applied",
            ),
            (
                event(
                    "customer.subscription.updated", subscription("active", price="price_old"), created=100
                ),
                "stale",
            ),
        ),
        Profile(ADA, "ada@example.com", "cus_1", "price_new", False),
    ),
    "order-is-per-profile-across-types": Case(
        (),
        (
            (event("checkout.session.completed", checkout(), created=300), "applied"),
            (event("customer.subscription.deleted", subscription("canceled"), created=250), "stale"),
        ),
        Profile(ADA, "ada@example.com", "cus_1", PRICE, True),
    ),
}


@pytest.fixture(name="store")
def _store(postgres_url: str, tmp_path: Any) -> Iterator[PostgresProfiles]:
    with empty_store("postgres", tmp_path, lambda: postgres_url) as store:
        assert isinstance(store, PostgresProfiles)
        yield store


def seed(url: str, profile: Profile) -> None:
    """Write a whole profile straight into PostgreSQL, as if it had been there before."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "INSERT INTO public.profiles (id, email, customer_id, price_id, has_access)"
            " VALUES (%s, %s, %s, %s, %s)",
            (profile.id, profile.email, profile.customer_id, profile.price_id, profile.has_access),
        )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_deliveries_on_postgres(store: PostgresProfiles, postgres_url: str, case: Case) -> None:
    """Every delivery answers its outcome, and the profile ends as on SQLite."""
    for profile in case.seeded:
        seed(postgres_url, profile)
    app = webhook_app(store, FakePayments())
    try:
        for payload, outcome in case.deliveries:
            expect(deliver(app, payload), 200, applied(outcome))
    finally:
        app.executor.shutdown()
    assert store.get(case.profile_id) == case.after


def processed_events(url: str) -> list[tuple[str, str]]:
    """The (event id, outcome) rows of PostgreSQL's processed-events table."""
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT id, outcome FROM public.stripe_events ORDER BY id").fetchall()
    return [(str(event_id), str(outcome)) for event_id, outcome in rows]


def test_a_lock_timeout_is_500_and_the_redelivery_is_applied(
    store: PostgresProfiles, postgres_url: str
) -> None:
    """While another transaction locks `profiles` the event ends at the statement timeout: 500, no trace.

    Delivered again after the lock is gone, the same event is applied: its id was not kept as processed.
    """
    impatient = PostgresProfiles(postgres_url, statement_timeout_ms=300)
    app = webhook_app(impatient, FakePayments())
    payload = event("checkout.session.completed", checkout())
    try:
        with psycopg.connect(postgres_url) as other:
            other.execute("LOCK TABLE public.profiles IN EXCLUSIVE MODE")
            started = time.monotonic()
            failed = deliver(app, payload)
            waited = time.monotonic() - started
            other.rollback()

        expect(failed, 500, STORE_UNAVAILABLE)
        assert waited >= 0.3  # it waited for the lock until the statement timeout, not less
        assert store.get(ADA) is None
        assert processed_events(postgres_url) == []
        expect(deliver(app, payload), 200, applied())
        assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", PRICE, True)
        assert processed_events(postgres_url) == [(json.loads(payload)["id"], "applied")]
    finally:
        app.executor.shutdown()
        impatient.close()


def test_checkout_of_a_deleted_user_on_supabase_is_recorded_unmatched(
    supabase_database: SupabaseDatabase,
) -> None:
    """On Supabase's schema a checkout naming a deleted auth user answers 200 "unmatched", every time."""
    with supabase_store(supabase_database, {BO: "bo@example.com"}) as store:
        app = webhook_app(store, FakePayments())
        try:
            payload = event("checkout.session.completed", checkout(user_id=ADA, customer="cus_gone"))
            expect(deliver(app, payload), 200, applied("unmatched"))
            expect(deliver(app, payload), 200, applied("duplicate"))
        finally:
            app.executor.shutdown()
        assert store.get(ADA) is None
    assert processed_events(supabase_database.admin_url) == [(json.loads(payload)["id"], "unmatched")]
