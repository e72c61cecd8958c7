"""Every profile store against the same expectations: SQLite, a real PostgreSQL server, and PostgreSQL
prepared as a Supabase project's database (profiles belong to auth users there)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import psycopg
import pytest

from handlers.ports import Outcome, Profile, ProfileUpdate
from tests.helpers.postgres import SupabaseDatabase
from tests.helpers.stores import KINDS, delete_user, empty_store, supabase_store

# Only PostgreSQL besides the code: scripts/mutate runs these against its one server.
pytestmark = pytest.mark.postgres

ADA = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"
BOB = "1f6a3c8e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
GONE = "5e3b9d2a-7c1f-4a8e-9b6d-0f2e4c6a8b1d"
AUTH_USERS = {ADA: "ada@example.com", BOB: "bob@example.com"}


class Store(Protocol):
    """What these tests call on a store."""

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None: ...

    def apply(self, update: ProfileUpdate) -> Outcome: ...

    def forget_customer(self, user_id: str, customer_id: str) -> None: ...

    def ping(self) -> None: ...


@pytest.fixture(name="store", params=[*KINDS, "supabase"])
def _store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each kind; on Supabase's schema ADA and BOB are auth users."""
    if request.param == "supabase":
        with supabase_store(request.getfixturevalue("supabase_database"), AUTH_USERS) as supabase:
            yield supabase
        return
    with empty_store(
        request.param, tmp_path, lambda: request.getfixturevalue("postgres_url"), pool_size=8
    ) as store:
        yield store


@pytest.fixture(name="supabase")
def _supabase(supabase_database: SupabaseDatabase) -> Iterator[Store]:
    """The PostgreSQL store on Supabase's schema, where ADA and BOB are auth users and GONE is not."""
    with supabase_store(supabase_database, AUTH_USERS) as store:
        yield store


def event(event_id: str, created: int = 100, **fields: object) -> ProfileUpdate:
    """A ProfileUpdate for event `event_id`."""
    return ProfileUpdate(event_id, created, **fields)  # type: ignore[arg-type]


def seed(store: Store, user_id: str, **fields: object) -> None:
    """Create `user_id`'s profile with `fields`, as an early event would."""
    assert store.apply(event(f"evt_seed_{user_id}", 1, user_id=user_id, **fields)) == "applied"


def test_ping_answers(store: Store) -> None:
    """ping() returns quietly on a created store."""
    store.ping()


def test_get_unknown_is_none(store: Store) -> None:
    """get() of a user without a row is None."""
    seed(store, BOB, customer_id="cus_bob")
    assert store.get(ADA) is None


def test_apply_creates_the_profile_by_user_id(store: Store) -> None:
    """An event naming a user without a profile creates it with the event's fields."""
    update = event(
        "evt_1",
        user_id=ADA,
        customer_id="cus_1",
        email="ada@example.com",
        price_id="price_1",
        has_access=True,
    )
    assert store.apply(update) == "applied"
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_1", True)


def test_a_replayed_event_is_applied_once(store: Store) -> None:
    """The same event id a second time is a duplicate and changes nothing, even with other fields."""
    assert store.apply(event("evt_1", user_id=ADA, has_access=True, price_id="price_1")) == "applied"
    assert store.apply(event("evt_1", user_id=ADA, has_access=False, price_id="price_2")) == "duplicate"
    assert store.get(ADA) == Profile(ADA, None, None, "price_1", True)


def test_an_older_event_after_a_newer_one_is_stale(store: Store) -> None:
    """An event created before the last applied one for that profile changes nothing."""
    newer = event("evt_new", 200, user_id=ADA, has_access=False, price_id="price_new")
    assert store.apply(newer) == "applied"
    assert store.apply(event("evt_old", 100, user_id=ADA, has_access=True, price_id="price_old")) == "stale"
    assert store.get(ADA) == Profile(ADA, None, None, "price_new", False)
    assert store.apply(event("evt_old", 100, user_id=ADA)) == "duplicate"


def test_an_event_as_old_as_the_last_one_applies(store: Store) -> None:
    """Stripe's `created` has one-second resolution: an equal timestamp is not stale."""
    assert store.apply(event("evt_a", 100, user_id=ADA, has_access=True)) == "applied"
    assert store.apply(event("evt_b", 100, user_id=ADA, has_access=False)) == "applied"
    assert store.get(ADA) == Profile(ADA, has_access=False)


def test_stale_is_per_profile(store: Store) -> None:
    """A newer event of another profile does not make this profile's event stale."""
    assert store.apply(event("evt_bob", 500, user_id=BOB, has_access=True)) == "applied"
    assert store.apply(event("evt_ada", 100, user_id=ADA, has_access=True)) == "applied"


def test_found_by_customer_id(store: Store) -> None:
    """Without a user id, the profile holding the customer is updated."""
    seed(store, ADA, customer_id="cus_ada")
    seed(store, BOB, customer_id="cus_bob")
    assert store.apply(event("evt_1", customer_id="cus_bob", has_access=True, price_id="p")) == "applied"
    assert store.get(BOB) == Profile(BOB, None, "cus_bob", "p", True)
    assert store.get(ADA) == Profile(ADA, None, "cus_ada", None, False)


def test_found_by_email_case_insensitively(store: Store) -> None:
    """Without user or known customer, the email finds the profile whatever its case."""
    seed(store, ADA, email="Ada.Lovelace@Example.com")
    outcome = store.apply(event("evt_1", customer_id="cus_new", email="ada.lovelace@EXAMPLE.COM"))
    assert outcome == "applied"
    assert store.get(ADA) == Profile(ADA, "Ada.Lovelace@Example.com", "cus_new", None, False)


def test_email_match_with_another_customer_is_unmatched(store: Store) -> None:
    """An email naming a profile that has a different customer changes nothing and is recorded."""
    seed(store, ADA, customer_id="cus_ada", email="Ada@Example.com", price_id="price_ada")
    update = event(
        "evt_1", customer_id="cus_payer", email="ada@example.COM", price_id="price_x", has_access=True
    )
    assert store.apply(update) == "unmatched"
    assert store.get(ADA) == Profile(ADA, "Ada@Example.com", "cus_ada", "price_ada", False)
    assert store.apply(update) == "duplicate"
    assert store.apply(event("evt_2", 200, customer_id="cus_ada", has_access=True)) == "applied"
    assert store.get(ADA) == Profile(ADA, "Ada@Example.com", "cus_ada", "price_ada", True)


def test_email_match_of_a_customer_holder_without_a_customer_is_unmatched(store: Store) -> None:
    """An event with an email but no customer cannot act on a profile that has a customer."""
    seed(store, ADA, customer_id="cus_ada", email="ada@example.com")
    assert store.apply(event("evt_1", email="ada@example.com", has_access=True)) == "unmatched"
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_ada", None, False)


def test_email_match_without_a_customer_is_applied(store: Store) -> None:
    """An email naming a profile with no customer yet links the customer and applies."""
    seed(store, ADA, email="ada@example.com")
    update = event(
        "evt_1", customer_id="cus_ada", email="ADA@example.com", price_id="price_1", has_access=True
    )
    assert store.apply(update) == "applied"
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_ada", "price_1", True)


def test_email_match_with_the_same_customer_is_applied(store: Store) -> None:
    """An event whose customer and email both name one profile applies to it."""
    seed(store, ADA, customer_id="cus_ada", email="ada@example.com")
    seed(store, BOB, email="bob@example.com")
    update = event(
        "evt_1", customer_id="cus_ada", email="ada@example.com", price_id="price_2", has_access=True
    )
    assert store.apply(update) == "applied"
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_ada", "price_2", True)


def test_unmatched_changes_nothing_and_is_recorded(store: Store) -> None:
    """An event no profile matches is unmatched, creates nothing, and is a duplicate when replayed."""
    seed(store, ADA, customer_id="cus_ada", email="ada@example.com")
    assert store.apply(event("evt_1", customer_id="cus_x", email="x@example.com", has_access=True)) == (
        "unmatched"
    )
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_ada", None, False)
    assert store.apply(event("evt_1", customer_id="cus_x")) == "duplicate"


def test_none_fields_keep_values_and_email_only_fills_an_empty_one(store: Store) -> None:
    """Fields left None are kept; an email never overwrites one already there."""
    seed(store, ADA, email="ada@example.com", customer_id="cus_1", price_id="price_1", has_access=True)
    assert store.apply(event("evt_1", 50, user_id=ADA, email="other@example.com")) == "applied"
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "price_1", True)
    seed(store, BOB)
    assert store.apply(event("evt_2", 50, user_id=BOB, email="bob@example.com")) == "applied"
    assert store.get(BOB) == Profile(BOB, "bob@example.com")


def test_has_access_false_is_applied(store: Store) -> None:
    """has_access False is a value, not "unset": a cancellation revokes access."""
    seed(store, ADA, has_access=True)
    assert store.apply(event("evt_cancel", 50, user_id=ADA, has_access=False)) == "applied"
    profile = store.get(ADA)
    assert profile is not None and profile.has_access is False


def test_concurrent_deliveries_of_one_event_apply_once(store: Store) -> None:
    """Eight simultaneous deliveries of one event: exactly one applies, the others are duplicates."""
    start = threading.Barrier(8)

    def deliver(_: int) -> Outcome:
        start.wait(timeout=10)
        return store.apply(event("evt_race", user_id=ADA, customer_id="cus_1", has_access=True))

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(deliver, range(8)))
    assert outcomes == ["applied"] + ["duplicate"] * 7
    assert store.get(ADA) == Profile(ADA, None, "cus_1", None, True)


def test_concurrent_events_of_one_profile_keep_the_newest(store: Store) -> None:
    """Events racing for one profile: whatever the order, the newest one's fields win."""
    seed(store, ADA)
    start = threading.Barrier(6)

    def deliver(created: int) -> Outcome:
        start.wait(timeout=10)
        return store.apply(event(f"evt_{created}", created, user_id=ADA, price_id=f"price_{created}"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(deliver, range(10, 16)))
    assert set(outcomes) <= {"applied", "stale"} and outcomes[-1] == "applied"
    profile = store.get(ADA)
    assert profile is not None and profile.price_id == "price_15"


def recorded(database: SupabaseDatabase, event_id: str) -> tuple[str | None, str] | None:
    """The profile id and outcome recorded for `event_id`, or None when it was not recorded."""
    with psycopg.connect(database.admin_url) as db:
        row = db.execute(
            "SELECT profile_id::text, outcome FROM public.stripe_events WHERE id = %s", (event_id,)
        ).fetchone()
    return None if row is None else (row[0], row[1])


def test_an_event_for_a_deleted_user_is_unmatched_and_recorded(
    supabase: Store, supabase_database: SupabaseDatabase
) -> None:
    """A checkout naming a user deleted since is recorded unmatched (no profile comes back), not a failure."""
    seed(supabase, ADA, customer_id="cus_ada", email="ada@example.com")
    delete_user(supabase_database, ADA)
    update = event(
        "evt_gone", 200, user_id=ADA, customer_id="cus_ada2", email="ada@example.com", has_access=True
    )
    assert supabase.apply(update) == "unmatched"
    assert recorded(supabase_database, "evt_gone") == (None, "unmatched")
    assert supabase.get(ADA) is None
    assert supabase.apply(update) == "duplicate"


def test_an_event_for_a_missing_user_links_by_customer(
    supabase: Store, supabase_database: SupabaseDatabase
) -> None:
    """A user id that is no auth user falls back to the profile holding the event's customer."""
    seed(supabase, BOB, customer_id="cus_bob")
    update = event("evt_1", 200, user_id=GONE, customer_id="cus_bob", price_id="price_2", has_access=True)
    assert supabase.apply(update) == "applied"
    assert supabase.get(BOB) == Profile(BOB, None, "cus_bob", "price_2", True)
    assert supabase.get(GONE) is None
    assert recorded(supabase_database, "evt_1") == (BOB, "applied")


def test_an_event_for_a_missing_user_links_by_email(supabase: Store) -> None:
    """A user id that is no auth user falls back to the email, under the email rules."""
    seed(supabase, BOB, email="bob@example.com")
    seed(supabase, ADA, email="ada@example.com", customer_id="cus_ada")
    to_bob = event(
        "evt_1", 200, user_id=GONE, customer_id="cus_new", email="BOB@example.com", has_access=True
    )
    assert supabase.apply(to_bob) == "applied"
    assert supabase.get(BOB) == Profile(BOB, "bob@example.com", "cus_new", None, True)
    to_ada = event(
        "evt_2", 200, user_id=GONE, customer_id="cus_other", email="ada@example.com", has_access=True
    )
    assert supabase.apply(to_ada) == "unmatched"
    assert supabase.get(ADA) == Profile(ADA, "ada@example.com", "cus_ada", None, False)


def test_forget_customer_clears_only_the_customer(store: Store) -> None:
    """A customer Stripe no longer knows is cleared; the rest of the profile stays."""
    seed(store, ADA, customer_id="cus_gone", email="ada@example.com", price_id="price_1", has_access=True)
    store.forget_customer(ADA, "cus_gone")
    assert store.get(ADA) == Profile(ADA, "ada@example.com", None, "price_1", True)


def test_forget_customer_never_wipes_a_newer_customer(store: Store) -> None:
    """A webhook that linked a new customer between the read and the forget wins."""
    seed(store, ADA, customer_id="cus_gone")
    stale = store.get(ADA)
    assert store.apply(event("evt_new", 200, user_id=ADA, customer_id="cus_new")) == "applied"
    assert stale is not None and stale.customer_id == "cus_gone"
    store.forget_customer(ADA, stale.customer_id)
    assert store.get(ADA) == Profile(ADA, None, "cus_new", None, False)


def test_forget_customer_touches_no_other_profile(store: Store) -> None:
    """Only the named user's row is cleared, even when another holds the same customer id."""
    seed(store, ADA, customer_id="cus_shared")
    seed(store, BOB, customer_id="cus_shared")
    store.forget_customer(ADA, "cus_shared")
    assert store.get(ADA) == Profile(ADA)
    assert store.get(BOB) == Profile(BOB, None, "cus_shared", None, False)


@pytest.mark.parametrize("user_id", [ADA, "not-a-uuid"], ids=["no-profile", "not-a-uuid"])
def test_forget_customer_without_a_profile_is_quiet(store: Store, user_id: str) -> None:
    """Nothing to clear is not an error, and creates no profile."""
    store.forget_customer(user_id, "cus_gone")
    assert store.get(user_id) is None


def test_after_forgetting_the_next_purchase_links_its_customer(store: Store) -> None:
    """The next checkout.session.completed sets the new customer as for a first purchase."""
    seed(store, ADA, customer_id="cus_gone")
    store.forget_customer(ADA, "cus_gone")
    assert (
        store.apply(event("evt_paid", 300, user_id=ADA, customer_id="cus_new", has_access=True)) == "applied"
    )
    assert store.get(ADA) == Profile(ADA, None, "cus_new", None, True)
