"""The purchase loop through HTTP only, on a real server process whose profiles live in PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.helpers.servers import (
    ACCOUNT,
    STRIPE_KEY,
    WEBHOOK_SECRET,
    Server,
    StripeEmulator,
    bearer,
    checkout_body,
    deliver,
    expect,
    post,
    run_server,
    since,
)
from tests.helpers.stripe_events import checkout_session, event, signature

USER = "3c9e7f1a-5b2d-4e8f-a1c3-9d7b5e3f1a2c"
NO_ACCOUNT = {"error": "You don't have a billing account yet. Make a purchase first."}


@pytest.fixture(name="server", scope="module")
def _server(
    emulator: StripeEmulator, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The service with DATABASE_URL on the throwaway PostgreSQL server, Stripe on the emulator."""
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("TRUNCATE public.profiles, public.stripe_events")
    yield from run_server(
        "hypercorn",
        tmp_path_factory.mktemp("webhook-postgres"),
        DATABASE_URL=postgres_url,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_API_BASE=emulator.url,
        STRIPE_MAX_RETRIES="0",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )


def test_checkout_webhook_portal_on_postgres(
    server: Server, emulator: StripeEmulator, postgres_url: str
) -> None:
    """Signed-in checkout, its signed checkout.session.completed (then replayed), then the portal opens."""
    user = bearer(USER, "pg-loop@example.com")
    expect(post(server, "/api/stripe/create-portal", {"returnUrl": ACCOUNT}, headers=user), 400, NO_ACCOUNT)
    mark = len(emulator.requests)
    checkout = post(server, "/api/stripe/create-checkout", checkout_body("price_pg_loop"), headers=user)
    created = since(emulator, mark)[0].body
    assert checkout.status_code == 200 and created is not None
    assert created["client_reference_id"] == USER
    payload = event(
        "checkout.session.completed",
        checkout_session(created["id"], USER, "cus_pg_loop", "pg-loop@example.com"),
        created=int(time.time()),
    )

    mark = len(emulator.requests)
    expect(
        deliver(server, payload, signature(payload, WEBHOOK_SECRET)),
        200,
        {"received": True, "outcome": "applied"},
    )
    assert [(r.method, r.path, r.status) for r in since(emulator, mark)] == [
        ("GET", f"/v1/checkout/sessions/{created['id']}/line_items", 200)
    ]
    expect(
        deliver(server, payload, signature(payload, WEBHOOK_SECRET)),
        200,
        {"received": True, "outcome": "duplicate"},
    )

    mark = len(emulator.requests)
    portal = post(server, "/api/stripe/create-portal", {"returnUrl": ACCOUNT}, headers=user)

    sent = since(emulator, mark)
    assert [(r.method, r.path, r.params) for r in sent] == [
        ("POST", "/v1/billing_portal/sessions", {"customer": "cus_pg_loop", "return_url": ACCOUNT})
    ]
    assert sent[0].body is not None
    expect(portal, 200, {"url": sent[0].body["url"]})
    # The state lives in PostgreSQL, not in a SQLite file beside the server.
    assert not server.database.exists()
    with psycopg.connect(postgres_url) as db:
        row = db.execute(
            "SELECT customer_id, price_id, has_access FROM public.profiles WHERE id = %s", (USER,)
        ).fetchone()
        events = db.execute("SELECT id, outcome FROM public.stripe_events").fetchall()
    assert row == ("cus_pg_loop", "price_pg_loop", True)
    assert events == [(json.loads(payload)["id"], "applied")]
