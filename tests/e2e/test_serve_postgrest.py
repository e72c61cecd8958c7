"""The service over HTTP with DATABASE_URL=supabase: a server process, real PostgREST, Stripe emulated."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.helpers.postgrest import JWT_SECRET, SupabaseProject
from tests.helpers.servers import (
    ACCOUNT,
    ROOT,
    STRIPE_KEY,
    WEBHOOK_SECRET,
    Server,
    checkout_body,
    deliver,
    expect,
    post,
    run_server,
    since,
)
from tests.helpers.stores import delete_user, reset_supabase
from tests.helpers.stripe_events import checkout_session, event, signature

sys.path.insert(0, str(ROOT / "scripts"))
from stripe_emulator import StripeEmulator

CUSTOMER = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"
NEWCOMER = "1f6a3c8e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
DELETED = "5e3b9d2a-7c1f-4a8e-9b6d-0f2e4c6a8b1d"
USERS = {CUSTOMER: "customer@example.com", NEWCOMER: "newcomer@example.com", DELETED: "deleted@example.com"}
NO_ACCOUNT = {"error": "You don't have a billing account yet. Make a purchase first."}


@pytest.fixture(name="emulator", scope="module")
def _emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture(name="server", scope="module")
def _server(
    emulator: StripeEmulator, project: SupabaseProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The service reading and writing profiles only through the project's REST API (the gateway)."""
    yield from run_server(
        "hypercorn",
        tmp_path_factory.mktemp("serve-postgrest"),
        DATABASE_URL="supabase",
        SUPABASE_URL=project.url,
        SUPABASE_ANON_KEY=project.anon_key,
        SUPABASE_SERVICE_ROLE_KEY=project.service_role_key,
        SUPABASE_JWT_SECRET=JWT_SECRET,
        SUPABASE_TIMEOUT="5",
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_API_BASE=emulator.url,
        STRIPE_MAX_RETRIES="0",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )


@pytest.fixture(name="users")
def _users(project: SupabaseProject) -> None:
    """Three auth users; only CUSTOMER has a profile, with a Stripe customer."""
    reset_supabase(project.database, USERS)
    with psycopg.connect(project.database.admin_url, autocommit=True) as db:
        db.execute(
            "INSERT INTO public.profiles (id, email, customer_id) VALUES (%s, %s, 'cus_postgrest')",
            (CUSTOMER, USERS[CUSTOMER]),
        )


def bearer(project: SupabaseProject, user_id: str, algorithm: str = "HS256") -> dict[str, str]:
    """The Authorization header of a signed-in user of the project."""
    return {"Authorization": f"Bearer {project.access_token(user_id, USERS[user_id], algorithm)}"}


def rows(project: SupabaseProject) -> tuple[list[tuple[str, str | None, bool]], list[tuple[str, str]]]:
    """The profiles (id, customer, access) and recorded events (id, outcome), read as the superuser."""
    with psycopg.connect(project.database.admin_url) as db:
        profiles = db.execute(
            "SELECT id::text, customer_id, has_access FROM public.profiles ORDER BY id"
        ).fetchall()
        events = db.execute("SELECT id, outcome FROM public.stripe_events ORDER BY id").fetchall()
    return [(p[0], p[1], p[2]) for p in profiles], [(e[0], e[1]) for e in events]


@pytest.mark.usefixtures("users")
@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
def test_portal_for_a_user_with_a_customer_is_200(
    server: Server, emulator: StripeEmulator, project: SupabaseProject, algorithm: str
) -> None:
    """The user's own row, read through PostgREST under row level security, opens the portal."""
    mark = len(emulator.requests)
    response = post(
        server,
        "/api/stripe/create-portal",
        {"returnUrl": ACCOUNT},
        headers=bearer(project, CUSTOMER, algorithm),
    )
    sent = since(emulator, mark)
    assert [(r.method, r.path, r.params) for r in sent] == [
        ("POST", "/v1/billing_portal/sessions", {"customer": "cus_postgrest", "return_url": ACCOUNT})
    ]
    assert sent[0].body is not None
    expect(response, 200, {"url": sent[0].body["url"]})


@pytest.mark.usefixtures("users")
def test_portal_for_a_user_without_a_customer_is_400(server: Server, project: SupabaseProject) -> None:
    """A user with no profile row gets the documented 400, not another user's row."""
    response = post(
        server, "/api/stripe/create-portal", {"returnUrl": ACCOUNT}, headers=bearer(project, NEWCOMER)
    )
    expect(response, 400, NO_ACCOUNT)


@pytest.mark.usefixtures("users")
def test_checkout_webhook_portal_through_postgrest(
    server: Server, emulator: StripeEmulator, project: SupabaseProject
) -> None:
    """Checkout, its signed checkout.session.completed applied by the RPC (then replayed), then the portal."""
    user = bearer(project, NEWCOMER, "ES256")
    mark = len(emulator.requests)
    assert (
        post(
            server, "/api/stripe/create-checkout", checkout_body("price_postgrest"), headers=user
        ).status_code
        == 200
    )
    created = since(emulator, mark)[0].body
    assert created is not None and created["client_reference_id"] == NEWCOMER
    payload = event(
        "checkout.session.completed",
        checkout_session(created["id"], NEWCOMER, "cus_newcomer", USERS[NEWCOMER]),
        created=int(time.time()),
    )

    expect(
        deliver(server, payload, signature(payload, WEBHOOK_SECRET)),
        200,
        {"received": True, "outcome": "applied"},
    )
    expect(
        deliver(server, payload, signature(payload, WEBHOOK_SECRET)),
        200,
        {"received": True, "outcome": "duplicate"},
    )

    mark = len(emulator.requests)
    portal = post(server, "/api/stripe/create-portal", {"returnUrl": ACCOUNT}, headers=user)
    sent = since(emulator, mark)
    assert [(r.path, r.params["customer"]) for r in sent] == [("/v1/billing_portal/sessions", "cus_newcomer")]
    assert sent[0].body is not None
    expect(portal, 200, {"url": sent[0].body["url"]})
    profiles, events = rows(project)
    assert profiles == [(NEWCOMER, "cus_newcomer", True), (CUSTOMER, "cus_postgrest", False)]
    assert events == [(json.loads(payload)["id"], "applied")]


@pytest.mark.usefixtures("users")
def test_a_checkout_of_a_deleted_user_is_200_unmatched(
    server: Server, emulator: StripeEmulator, project: SupabaseProject
) -> None:
    """A user deleted between checkout and webhook: 200 "unmatched", recorded, so Stripe stops retrying."""
    mark = len(emulator.requests)
    checkout = post(
        server, "/api/stripe/create-checkout", checkout_body("price_gone"), headers=bearer(project, DELETED)
    )
    assert checkout.status_code == 200
    created = since(emulator, mark)[0].body
    assert created is not None
    delete_user(project.database, DELETED)
    payload = event(
        "checkout.session.completed",
        checkout_session(created["id"], DELETED, "cus_deleted", USERS[DELETED]),
        created=int(time.time()),
    )

    for outcome in ("unmatched", "duplicate"):
        expect(
            deliver(server, payload, signature(payload, WEBHOOK_SECRET)),
            200,
            {"received": True, "outcome": outcome},
        )
    profiles, events = rows(project)
    assert profiles == [(CUSTOMER, "cus_postgrest", False)]
    assert events == [(json.loads(payload)["id"], "unmatched")]
