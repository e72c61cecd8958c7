"""The purchase loop through HTTP only, on real server processes: checkout -> signed webhook -> portal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

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
    free_port,
    post,
    run_server,
    since,
    wait_until_up,
)
from tests.helpers.stripe_events import checkout_session, event, signature


@pytest.fixture(name="server", scope="module")
def _server(emulator: StripeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from run_server(
        "hypercorn",
        tmp_path_factory.mktemp("webhook"),
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_API_BASE=emulator.url,
        STRIPE_MAX_RETRIES="0",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )


def test_checkout_webhook_portal(server: Server, emulator: StripeEmulator) -> None:
    """A signed-in checkout, its signed checkout.session.completed, then the portal opens for that user."""
    user = bearer("user-loop", "loop@example.com")
    expect(
        post(server, "/api/stripe/create-portal", {"returnUrl": ACCOUNT}, headers=user),
        400,
        {"error": "You don't have a billing account yet. Make a purchase first."},
    )
    mark = len(emulator.requests)
    checkout = post(server, "/api/stripe/create-checkout", checkout_body("price_loop"), headers=user)
    created = since(emulator, mark)[0].body
    assert checkout.status_code == 200 and created is not None
    assert created["client_reference_id"] == "user-loop"
    payload = event(
        "checkout.session.completed",
        checkout_session(created["id"], "user-loop", "cus_loop", "loop@example.com"),
        created=int(time.time()),
    )

    mark = len(emulator.requests)
    expect(
        deliver(server, payload, signature(payload, WEBHOOK_SECRET)),
        200,
        {"received": True, "outcome": "applied"},
    )
    assert [(r.method, r.path, r.query, r.status) for r in since(emulator, mark)] == [
        ("GET", f"/v1/checkout/sessions/{created['id']}/line_items", "limit=1", 200)
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
        ("POST", "/v1/billing_portal/sessions", {"customer": "cus_loop", "return_url": ACCOUNT})
    ]
    assert sent[0].body is not None
    expect(portal, 200, {"url": sent[0].body["url"]})

    mark = len(emulator.requests)
    again = post(server, "/api/stripe/create-checkout", checkout_body("price_loop_2"), headers=user)
    assert again.status_code == 200
    assert since(emulator, mark)[0].params["customer"] == "cus_loop"


def test_a_forged_event_is_400_over_http(server: Server) -> None:
    """An event signed with another secret, or not signed, is refused with 400 JSON."""
    payload = event("checkout.session.completed", checkout_session("cs_forged", "user-forged", "cus_forged"))

    expect(
        deliver(server, payload, signature(payload, "whsec_forged")),
        400,
        {"error": "Invalid Stripe signature"},
    )
    expect(deliver(server, payload, None), 400, {"error": "Missing Stripe-Signature header"})
    user = bearer("user-forged")
    expect(
        post(server, "/api/stripe/create-portal", {"returnUrl": ACCOUNT}, headers=user),
        400,
        {"error": "You don't have a billing account yet. Make a purchase first."},
    )


def test_stripe_failure_is_500_and_the_redelivery_applies(server: Server, emulator: StripeEmulator) -> None:
    """While Stripe fails the line-item lookup the webhook answers 500; Stripe's retry is then applied."""
    mark = len(emulator.requests)
    post(server, "/api/stripe/create-checkout", checkout_body("price_retry"), headers=bearer("user-retry"))
    created = since(emulator, mark)[0].body
    assert created is not None
    payload = event("checkout.session.completed", checkout_session(created["id"], "user-retry", "cus_retry"))

    emulator.set_fault("status:503")
    try:
        failed = deliver(server, payload, signature(payload, WEBHOOK_SECRET))
    finally:
        emulator.set_fault(None)
    retried = deliver(server, payload, signature(payload, WEBHOOK_SECRET))

    expect(failed, 500, {"error": "The payment provider is unavailable. Please try again."})
    expect(retried, 200, {"received": True, "outcome": "applied"})


def test_without_a_webhook_secret_events_are_500(emulator: StripeEmulator, tmp_path: Path) -> None:
    """With real Stripe and no STRIPE_WEBHOOK_SECRET the webhook answers 500 and says so in the log."""
    for server in run_server(
        "hypercorn", tmp_path, STRIPE_SECRET_KEY=STRIPE_KEY, STRIPE_API_BASE=emulator.url
    ):
        payload = event("invoice.paid", {"id": "in_1", "customer": "cus_1"})
        expect(
            deliver(server, payload, signature(payload, WEBHOOK_SECRET)),
            500,
            {"error": "Webhook is not configured"},
        )
        assert "STRIPE_WEBHOOK_SECRET is not set: Stripe events are refused" in server.stderr.read_text()


@pytest.fixture(name="offline_folder")
def _offline_folder(tmp_path: Path) -> Path:
    """A fresh working folder: the service keeps var/ (database, local JWT secret) under it."""
    return tmp_path


def offline_env(port: int) -> dict[str, str]:
    """Nothing but HOST and PORT: no Stripe key, no webhook secret, no JWT secret, default database."""
    kept = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "TMPDIR")}
    return kept | {"HOST": "127.0.0.1", "PORT": str(port)}


@pytest.fixture(name="offline")
def _offline(offline_folder: Path) -> Iterator[Server]:
    port = free_port()
    stderr = offline_folder / "stderr.log"
    with stderr.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "handlers"],
            env=offline_env(port),
            cwd=offline_folder,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            server = Server("offline", f"http://127.0.0.1:{port}", port, offline_folder / "var", stderr)
            wait_until_up(server, process)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=10)


def local_token(folder: Path, email: str) -> str:
    """What `scripts/token EMAIL` prints, run in the service's working folder."""
    done = subprocess.run(
        [sys.executable, "-m", "handlers.offline.local_token", email],
        env=offline_env(8000),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_offline_loop_with_no_settings(offline: Server, offline_folder: Path) -> None:
    """Offline, with nothing configured: local token -> checkout -> Pay on the local page -> portal 200."""
    user = {"Authorization": f"Bearer {local_token(offline_folder, 'ada@example.com')}"}
    expect(
        post(offline, "/api/stripe/create-portal", {"returnUrl": ACCOUNT}, headers=user),
        400,
        {"error": "You don't have a billing account yet. Make a purchase first."},
    )
    body = checkout_body("price_offline") | {"mode": "subscription"}
    checkout = post(offline, "/api/stripe/create-checkout", body, headers=user)
    url = checkout.json()["url"]
    assert re.fullmatch(rf"{offline.url}/offline/checkout/cs_offline_[0-9a-f]{{24}}", url)

    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<button type="submit">Pay</button>' in page.text
    paid = requests.post(url, timeout=10, allow_redirects=False)
    assert paid.status_code == 303
    assert paid.headers["location"] == f"https://app.example.com/success?session_id={url.rsplit('/', 1)[1]}"

    portal = post(offline, "/api/stripe/create-portal", {"returnUrl": ACCOUNT}, headers=user)
    expect(portal, 200, {"url": f"{offline.url}/offline/portal/bps_offline_1"})
    back = requests.get(portal.json()["url"], timeout=10)
    assert back.status_code == 200 and f'<a href="{ACCOUNT}">Return</a>' in back.text
    log = offline.stderr.read_text()
    assert re.search(
        r"stripe event evt_offline_[0-9a-f]{24} type=checkout.session.completed outcome=applied", log
    )
    secret = (offline_folder / "var" / "local-jwt-secret").read_text().strip()
    assert secret not in log
    assert "whsec_" not in log
