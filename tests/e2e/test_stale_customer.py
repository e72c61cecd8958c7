"""Stripe's real failure modes over HTTP, on real server processes: a customer Stripe no longer knows
(deleted, or from the other mode) and an account whose customer portal was never configured.

The service runs with the real stripe SDK against scripts/stripe_emulator.py (customers `cus_missing...`
and portal configurations `bpc_missing...` are unknown to it), its profiles in SQLite or PostgreSQL;
and once with the offline stand-in, which knows the same two cases.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from tests.helpers.servers import (
    ACCOUNT,
    ROOT,
    STRIPE_KEY,
    WEBHOOK_SECRET,
    Server,
    bearer,
    checkout_body,
    deliver,
    expect,
    post,
    run_server,
    since,
)
from tests.helpers.stripe_events import checkout_session, event, signature

sys.path.insert(0, str(ROOT / "scripts"))
from stripe_emulator import StripeEmulator

CHECKOUT = "/api/stripe/create-checkout"
PORTAL = "/api/stripe/create-portal"
NO_ACCOUNT = {"error": "You don't have a billing account yet. Make a purchase first."}
PORTAL_NOT_SET_UP = {"error": "The billing portal is not available yet. Please contact support."}
KEY = re.compile(r"checkout-[0-9a-f]{64}")
COMMON = {
    "mode": "payment",
    "line_items[0][quantity]": "1",
    "success_url": "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}",
    "cancel_url": "https://app.example.com/cancel",
    "allow_promotion_codes": "true",
}


@dataclass(frozen=True)
class Stack:
    """A running service and the profile store behind it."""

    kind: str
    server: Server
    postgres_url: str | None = None

    def seed(self, user_id: str, email: str, customer_id: str) -> None:
        """Give `user_id` a profile holding `customer_id`, as an earlier purchase would have."""
        if self.postgres_url is None:
            with sqlite3.connect(self.server.database) as db:
                db.execute(
                    "INSERT INTO profiles (id, email, customer_id) VALUES (?, ?, ?)",
                    (user_id, email, customer_id),
                )
            db.close()
            return
        with psycopg.connect(self.postgres_url, autocommit=True) as pg:
            pg.execute(
                "INSERT INTO public.profiles (id, email, customer_id) VALUES (%s, %s, %s)",
                (user_id, email, customer_id),
            )

    def customer_of(self, user_id: str) -> str | None:
        """The customer the store holds for `user_id` now."""
        if self.postgres_url is None:
            with sqlite3.connect(self.server.database) as db:
                row = db.execute("SELECT customer_id FROM profiles WHERE id = ?", (user_id,)).fetchone()
            db.close()
        else:
            with psycopg.connect(self.postgres_url) as pg:
                row = pg.execute(
                    "SELECT customer_id FROM public.profiles WHERE id = %s", (user_id,)
                ).fetchone()
        assert row is not None, f"no profile for {user_id}"
        return None if row[0] is None else str(row[0])

    def log_lines(self, needle: str) -> list[str]:
        """The server's log lines that contain `needle`."""
        return [line for line in self.server.stderr.read_text().splitlines() if needle in line]


@pytest.fixture(name="emulator", scope="module")
def _emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


def stripe_settings(emulator: StripeEmulator) -> dict[str, str]:
    """Real Stripe through the SDK, pointed at the emulator, with a webhook secret."""
    return {
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_API_BASE": emulator.url,
        "STRIPE_MAX_RETRIES": "0",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@pytest.fixture(name="stack", scope="module", params=["sqlite", "postgres"])
def _stack(
    request: pytest.FixtureRequest, emulator: StripeEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The service over each store, Stripe on the emulator, STRIPE_PORTAL_CONFIGURATION unset."""
    settings = stripe_settings(emulator)
    postgres_url = None
    if request.param == "postgres":
        postgres_url = request.getfixturevalue("postgres_url")
        with psycopg.connect(postgres_url, autocommit=True) as db:
            db.execute("TRUNCATE public.profiles, public.stripe_events")
        settings["DATABASE_URL"] = postgres_url
    for server in run_server("hypercorn", tmp_path_factory.mktemp(request.param), **settings):
        yield Stack(request.param, server, postgres_url)


@pytest.fixture(name="unconfigured")
def _unconfigured(emulator: StripeEmulator) -> Iterator[StripeEmulator]:
    """The emulator as an account whose customer portal settings were never saved."""
    emulator.portal_default = False
    try:
        yield emulator
    finally:
        emulator.portal_default = True


def test_a_stale_customer_checks_out_as_a_new_one(stack: Stack, emulator: StripeEmulator) -> None:
    """Stripe's "No such customer" is retried once without it, with its own key; the id is forgotten."""
    user, email, stale = str(uuid.uuid4()), f"stale-{stack.kind}@example.com", f"cus_missing_{stack.kind}"
    stack.seed(user, email, stale)
    headers = bearer(user, email) | {"Idempotency-Key": f"click-{user}"}
    price = f"price_stale_{stack.kind}"
    mark = len(emulator.requests)

    response = post(stack.server, CHECKOUT, checkout_body(price), headers=headers)

    sent = since(emulator, mark)
    assert [(r.method, r.path, r.status) for r in sent] == [
        ("POST", "/v1/checkout/sessions", 400),
        ("POST", "/v1/checkout/sessions", 200),
    ]
    assert sent[0].params == COMMON | {
        "line_items[0][price]": price,
        "client_reference_id": user,
        "customer": stale,
    }
    assert sent[0].body == {
        "error": {
            "type": "invalid_request_error",
            "message": f"No such customer: '{stale}'",
            "code": "resource_missing",
            "param": "customer",
        }
    }
    assert sent[1].params == COMMON | {
        "line_items[0][price]": price,
        "client_reference_id": user,
        "customer_email": email,
        "customer_creation": "always",
    }
    keys = [r.headers["idempotency-key"] for r in sent]
    assert all(KEY.fullmatch(key) for key in keys) and keys[0] != keys[1]
    assert sent[1].body is not None
    session = sent[1].body
    expect(response, 200, {"url": session["url"]})
    assert stack.customer_of(user) is None

    # The same click again: nothing stale is left to send, and the retry's key finds the same session.
    mark = len(emulator.requests)
    again = post(stack.server, CHECKOUT, checkout_body(price), headers=headers)
    resent = since(emulator, mark)
    assert [(r.params, r.headers["idempotency-key"], r.status) for r in resent] == [
        (sent[1].params, keys[1], 200)
    ]
    expect(again, 200, {"url": session["url"]})

    # Paying links the new customer, as for any first purchase; the next checkout sends it.
    fresh = f"cus_fresh_{stack.kind}"
    payload = event(
        "checkout.session.completed",
        checkout_session(session["id"], user, fresh, email),
        created=int(time.time()),
    )
    expect(
        deliver(stack.server, payload, signature(payload, WEBHOOK_SECRET)),
        200,
        {"received": True, "outcome": "applied"},
    )
    assert stack.customer_of(user) == fresh
    mark = len(emulator.requests)
    later = post(stack.server, CHECKOUT, checkout_body(f"{price}_2"), headers=bearer(user, email))
    assert later.status_code == 200
    assert [r.params.get("customer") for r in since(emulator, mark)] == [fresh]


def test_a_stale_customer_at_the_portal_has_no_billing_account(
    stack: Stack, emulator: StripeEmulator
) -> None:
    """The portal answers the documented 400 for a customer Stripe no longer knows, then forgets it."""
    user, stale = str(uuid.uuid4()), f"cus_missing_portal_{stack.kind}"
    stack.seed(user, "portal@example.com", stale)
    mark = len(emulator.requests)

    response = post(stack.server, PORTAL, {"returnUrl": ACCOUNT}, headers=bearer(user))

    expect(response, 400, NO_ACCOUNT)
    assert [(r.path, r.params, r.status) for r in since(emulator, mark)] == [
        ("/v1/billing_portal/sessions", {"customer": stale, "return_url": ACCOUNT}, 400)
    ]
    assert stack.customer_of(user) is None
    mark = len(emulator.requests)
    expect(post(stack.server, PORTAL, {"returnUrl": ACCOUNT}, headers=bearer(user)), 400, NO_ACCOUNT)
    assert since(emulator, mark) == []


def test_an_unknown_price_is_still_stripes_500_and_keeps_the_customer(
    stack: Stack, emulator: StripeEmulator
) -> None:
    """An unknown price has the code of a missing customer, but is not retried and forgets nothing."""
    user, customer = str(uuid.uuid4()), f"cus_kept_{stack.kind}"
    stack.seed(user, "kept@example.com", customer)
    mark = len(emulator.requests)

    response = post(
        stack.server, CHECKOUT, checkout_body("price_missing_e2e"), headers=bearer(user, "kept@example.com")
    )

    expect(response, 500, {"error": "No such price: 'price_missing_e2e'"})
    assert [(r.params.get("customer"), r.status) for r in since(emulator, mark)] == [(customer, 400)]
    assert stack.customer_of(user) == customer


def test_an_unconfigured_portal_is_a_safe_500_and_one_warning(
    stack: Stack, unconfigured: StripeEmulator
) -> None:
    """Stripe's operator instructions never reach the user; the log says once what to fix."""
    user, customer = str(uuid.uuid4()), f"cus_portal_{stack.kind}"
    stack.seed(user, "unconfigured@example.com", customer)
    warned = len(stack.log_lines("STRIPE_PORTAL_CONFIGURATION"))
    mark = len(unconfigured.requests)

    response = post(stack.server, PORTAL, {"returnUrl": ACCOUNT}, headers=bearer(user))

    expect(response, 500, PORTAL_NOT_SET_UP)
    sent = since(unconfigured, mark)
    assert [(r.params, r.status) for r in sent] == [({"customer": customer, "return_url": ACCOUNT}, 400)]
    assert sent[0].body is not None
    assert sent[0].body["error"]["message"].startswith("No configuration provided and your test mode default")
    warnings = stack.log_lines("STRIPE_PORTAL_CONFIGURATION")[warned:]
    assert len(warnings) == 1
    assert "WARNING" in warnings[0] and "customer portal" in warnings[0]
    assert stack.customer_of(user) == customer


@pytest.fixture(name="configured", scope="module")
def _configured(emulator: StripeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service with STRIPE_PORTAL_CONFIGURATION set (SQLite store)."""
    yield from run_server(
        "hypercorn",
        tmp_path_factory.mktemp("configured"),
        **stripe_settings(emulator),
        STRIPE_PORTAL_CONFIGURATION="bpc_e2e_configured",
    )


def test_a_configured_portal_opens_without_a_default(
    configured: Server, unconfigured: StripeEmulator
) -> None:
    """With STRIPE_PORTAL_CONFIGURATION every portal session names it, so no saved default is needed."""
    user = str(uuid.uuid4())
    Stack("sqlite", configured).seed(user, "configured@example.com", "cus_configured")
    mark = len(unconfigured.requests)

    response = post(configured, PORTAL, {"returnUrl": ACCOUNT}, headers=bearer(user))

    sent = since(unconfigured, mark)
    assert [(r.params, r.status) for r in sent] == [
        ({"customer": "cus_configured", "return_url": ACCOUNT, "configuration": "bpc_e2e_configured"}, 200)
    ]
    assert sent[0].body is not None
    expect(response, 200, {"url": sent[0].body["url"]})


@pytest.fixture(name="offline", scope="module")
def _offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The offline stand-in, told a portal configuration it cannot open (`bpc_missing...`)."""
    folder = tmp_path_factory.mktemp("offline-stale")
    for server in run_server("hypercorn", folder, STRIPE_PORTAL_CONFIGURATION="bpc_missing_offline"):
        yield Stack("sqlite", server)


def test_the_offline_stand_in_knows_both_failures(offline: Stack) -> None:
    """Offline, `cus_missing...` is a customer Stripe does not know; `bpc_missing...`, an unsaved portal."""
    stale_buyer, stale_portal, customer = (str(uuid.uuid4()) for _ in range(3))
    offline.seed(stale_buyer, "buyer@example.com", "cus_missing_offline_1")
    offline.seed(stale_portal, "portal@example.com", "cus_missing_offline_2")
    offline.seed(customer, "customer@example.com", "cus_offline_known")

    checkout = post(offline.server, CHECKOUT, checkout_body("price_1"), headers=bearer(stale_buyer))
    assert checkout.status_code == 200
    assert checkout.json()["url"].startswith(f"{offline.server.url}/offline/checkout/cs_offline_")
    assert offline.customer_of(stale_buyer) is None

    expect(
        post(offline.server, PORTAL, {"returnUrl": ACCOUNT}, headers=bearer(stale_portal)), 400, NO_ACCOUNT
    )
    assert offline.customer_of(stale_portal) is None

    warned = len(offline.log_lines("STRIPE_PORTAL_CONFIGURATION"))
    expect(
        post(offline.server, PORTAL, {"returnUrl": ACCOUNT}, headers=bearer(customer)), 500, PORTAL_NOT_SET_UP
    )
    assert len(offline.log_lines("STRIPE_PORTAL_CONFIGURATION")[warned:]) == 1
    assert offline.customer_of(customer) == "cus_offline_known"
