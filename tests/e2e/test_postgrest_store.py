"""The Supabase REST store against the real PostgREST, on PostgreSQL prepared as Supabase prepares it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from handlers.adapters.supabase_profiles import SupabaseProfiles
from handlers.app import create_app
from handlers.asgi import App
from handlers.ports import Profile, ProfileUpdate, StoreError
from tests.helpers.asgi_client import Result, call
from tests.helpers.postgrest import JWT_SECRET, Gateway, SupabaseProject, postgrest
from tests.helpers.servers import free_port
from tests.helpers.stores import delete_user, reset_supabase

ADA = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"
BOB = "1f6a3c8e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
USERS = {ADA: "ada@example.com", BOB: "bob@example.com"}
UNAVAILABLE = {"error": "Billing information is unavailable right now. Please try again."}


@pytest.fixture(name="store")
def _store(project: SupabaseProject) -> SupabaseProfiles:
    """The store as the service builds it for DATABASE_URL=supabase, over a database holding ADA and BOB."""
    reset_supabase(project.database, USERS)
    return SupabaseProfiles(project.url, project.anon_key, project.service_role_key, timeout=5.0)


def event(event_id: str, created: int = 100, **fields: Any) -> ProfileUpdate:
    """A ProfileUpdate for event `event_id`."""
    return ProfileUpdate(event_id, created, **fields)


def seed(store: SupabaseProfiles, user_id: str, **fields: Any) -> None:
    """Create `user_id`'s profile with `fields` through the RPC, as an early event would."""
    assert store.apply(event(f"evt_seed_{user_id}", 1, user_id=user_id, **fields)) == "applied"


def recorded(project: SupabaseProject) -> list[tuple[str, str | None, str]]:
    """Every recorded event: id, profile id, outcome."""
    with psycopg.connect(project.database.admin_url) as db:
        rows = db.execute(
            "SELECT id, profile_id::text, outcome FROM public.stripe_events ORDER BY id"
        ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def test_the_gateway_refuses_a_request_without_an_api_key(project: SupabaseProject) -> None:
    """As Supabase's gateway: no apikey, 401 and its message, before PostgREST is asked."""
    response = requests.get(f"{project.url}/rest/v1/profiles", params={"select": "id"}, timeout=10)
    assert (response.status_code, response.json()) == (401, {"message": "No API key found in request"})


@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
def test_a_user_reads_their_own_profile(
    store: SupabaseProfiles, project: SupabaseProject, algorithm: str
) -> None:
    """With the user's HS256 or ES256 access token, row level security shows the user's own row."""
    seed(store, ADA, customer_id="cus_ada", email="ada@example.com", price_id="price_1", has_access=True)
    token = project.access_token(ADA, "ada@example.com", algorithm)
    assert store.get(ADA, access_token=token) == Profile(ADA, "ada@example.com", "cus_ada", "price_1", True)


def test_another_users_profile_is_no_profile(store: SupabaseProfiles, project: SupabaseProject) -> None:
    """Row level security hides BOB's row from ADA's token: "no profile"; the service role sees it."""
    seed(store, BOB, customer_id="cus_bob")
    assert store.get(BOB, access_token=project.access_token(ADA, "ada@example.com")) is None
    assert store.get(BOB) == Profile(BOB, None, "cus_bob", None, False)


def test_a_user_without_a_profile_has_none(store: SupabaseProfiles, project: SupabaseProject) -> None:
    """An auth user with no profile row reads as None, not an error."""
    assert store.get(ADA, access_token=project.access_token(ADA, "ada@example.com", "ES256")) is None


def expired(project: SupabaseProject) -> str:
    """ADA's token, expired two minutes ago (PostgREST allows 30 s of clock skew)."""
    return project.access_token(ADA, "ada@example.com", expires_in=-120)


def forged(project: SupabaseProject) -> str:
    """ADA's token with a signature no key of the project made."""
    header, payload, _ = project.access_token(ADA, "ada@example.com").split(".")
    return f"{header}.{payload}.{'A' * 43}"


@pytest.mark.parametrize(
    ("make_token", "message"),
    [pytest.param(expired, "JWT expired", id="expired"), pytest.param(forged, "JWSError", id="forged")],
)
def test_a_token_postgrest_refuses_is_a_store_error(
    store: SupabaseProfiles,
    project: SupabaseProject,
    make_token: Callable[[SupabaseProject], str],
    message: str,
) -> None:
    """A token PostgREST refuses (401) is a StoreError, not a crash and not "no profile"."""
    seed(store, ADA, customer_id="cus_ada")
    token = make_token(project)
    with pytest.raises(StoreError):
        store.get(ADA, access_token=token)
    raw = requests.get(
        f"{project.url}/rest/v1/profiles",
        params={"select": "id", "id": f"eq.{ADA}"},
        headers={"apikey": project.anon_key, "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert (raw.status_code, raw.json()["code"]) == (401, "PGRST301")
    assert raw.json()["message"].startswith(message)
    assert store.get(ADA, access_token=project.access_token(ADA, "ada@example.com")) is not None


def test_ping_answers(store: SupabaseProfiles) -> None:
    """ping() returns quietly when PostgREST answers for the table."""
    store.ping()


def test_an_event_is_applied_once(store: SupabaseProfiles, project: SupabaseProject) -> None:
    """The RPC as service role creates the user's profile; a redelivery is a duplicate and changes nothing."""
    first = event(
        "evt_1", user_id=ADA, customer_id="cus_1", email="ada@example.com", price_id="p1", has_access=True
    )
    assert store.apply(first) == "applied"
    assert store.apply(event("evt_1", user_id=ADA, price_id="p2", has_access=False)) == "duplicate"
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_1", "p1", True)
    assert recorded(project) == [("evt_1", ADA, "applied")]


def test_an_older_event_is_stale(store: SupabaseProfiles) -> None:
    """An event created before the last one applied to the profile changes nothing."""
    assert (
        store.apply(event("evt_new", 200, user_id=ADA, price_id="price_new", has_access=False)) == "applied"
    )
    assert store.apply(event("evt_old", 100, user_id=ADA, price_id="price_old", has_access=True)) == "stale"
    assert store.get(ADA) == Profile(ADA, None, None, "price_new", False)


def test_an_event_no_profile_matches_is_unmatched(store: SupabaseProfiles, project: SupabaseProject) -> None:
    """Unknown customer and email: unmatched, recorded, nothing created."""
    seed(store, ADA, customer_id="cus_ada", email="ada@example.com")
    assert (
        store.apply(event("evt_1", customer_id="cus_x", email="x@example.com", has_access=True))
        == "unmatched"
    )
    assert store.get(ADA) == Profile(ADA, "ada@example.com", "cus_ada", None, False)
    assert ("evt_1", None, "unmatched") in recorded(project)


def test_the_email_rules(store: SupabaseProfiles) -> None:
    """By email, any case: a profile without a customer links; one holding another customer is left alone."""
    seed(store, ADA, email="Ada@Example.com")
    seed(store, BOB, email="bob@example.com", customer_id="cus_bob")
    assert (
        store.apply(event("evt_1", customer_id="cus_ada", email="ada@EXAMPLE.com", has_access=True))
        == "applied"
    )
    assert store.get(ADA) == Profile(ADA, "Ada@Example.com", "cus_ada", None, True)
    assert store.apply(event("evt_2", customer_id="cus_payer", email="bob@example.com", has_access=True)) == (
        "unmatched"
    )
    assert store.get(BOB) == Profile(BOB, "bob@example.com", "cus_bob", None, False)


def test_an_event_for_a_deleted_user_is_recorded_unmatched(
    store: SupabaseProfiles, project: SupabaseProject
) -> None:
    """Through PostgREST, a checkout naming a user deleted since is "unmatched" and recorded, not a 409."""
    seed(store, ADA, customer_id="cus_ada")
    delete_user(project.database, ADA)
    update = event(
        "evt_gone", 200, user_id=ADA, customer_id="cus_ada2", email="ada@example.com", has_access=True
    )
    assert store.apply(update) == "unmatched"
    assert store.apply(update) == "duplicate"
    assert store.get(ADA) is None
    assert ("evt_gone", None, "unmatched") in recorded(project)


def test_an_event_for_a_deleted_user_links_by_customer(
    store: SupabaseProfiles, project: SupabaseProject
) -> None:
    """A deleted user's event whose customer another profile holds applies to that profile."""
    seed(store, BOB, customer_id="cus_shared")
    delete_user(project.database, ADA)
    assert store.apply(event("evt_1", 200, user_id=ADA, customer_id="cus_shared", price_id="p")) == "applied"
    assert store.get(BOB) == Profile(BOB, None, "cus_shared", "p", False)


def test_forgetting_a_customer_clears_only_that_customer(store: SupabaseProfiles) -> None:
    """The service-role PATCH clears the stale customer; a row holding another customer is left alone."""
    seed(store, ADA, customer_id="cus_stale", email="ada@example.com")
    seed(store, BOB, customer_id="cus_new")
    store.forget_customer(ADA, "cus_stale")
    store.forget_customer(BOB, "cus_stale")
    assert store.get(ADA) == Profile(ADA, "ada@example.com", None, None, False)
    assert store.get(BOB) == Profile(BOB, None, "cus_new", None, False)


@pytest.fixture(name="down_url", params=["postgrest-stopped", "nothing-listening"])
def _down_url(request: pytest.FixtureRequest, project: SupabaseProject, tmp_path: Path) -> Iterator[str]:
    """A project URL whose REST side is down: a gateway before a stopped PostgREST, or no server at all."""
    if request.param == "nothing-listening":
        yield f"http://127.0.0.1:{free_port()}"
        return
    with postgrest(project.database.authenticator_url, tmp_path) as stopped_soon:
        gateway = Gateway(stopped_soon)
    with gateway:
        yield gateway.url


def test_a_store_that_is_down_raises_store_error(project: SupabaseProject, down_url: str) -> None:
    """Every call fails with StoreError when PostgREST cannot be reached."""
    store = SupabaseProfiles(down_url, project.anon_key, project.service_role_key, timeout=5.0)
    with pytest.raises(StoreError):
        store.ping()
    with pytest.raises(StoreError):
        store.get(ADA, access_token=project.access_token(ADA, "ada@example.com"))
    with pytest.raises(StoreError):
        store.apply(event("evt_down", user_id=ADA, has_access=True))


def test_the_service_answers_503_and_500_when_the_store_is_down(
    project: SupabaseProject, down_url: str
) -> None:
    """Through the service built for DATABASE_URL=supabase: /healthz 503, create-portal the documented 500."""
    app = create_app(
        {
            "DATABASE_URL": "supabase",
            "SUPABASE_URL": down_url,
            "SUPABASE_ANON_KEY": project.anon_key,
            "SUPABASE_SERVICE_ROLE_KEY": project.service_role_key,
            "SUPABASE_JWT_SECRET": JWT_SECRET,
        }
    )
    token = SupabaseProject(down_url, "", "", project.database).access_token(ADA, "ada@example.com")
    try:
        health = request(app, "GET", "/healthz")
        portal = request(
            app,
            "POST",
            "/api/stripe/create-portal",
            {"returnUrl": "https://app.example.com/account"},
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    finally:
        app.executor.shutdown()
    assert (health.status, health.json()) == (503, {"status": "unavailable", "profiles": "unavailable"})
    assert (portal.status, portal.json()) == (500, UNAVAILABLE)


def request(
    app: App, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Result:
    """One request through the ASGI app in-process."""
    data = b"" if body is None else json.dumps(body).encode()
    return asyncio.run(call(app, method, path, data, headers))
