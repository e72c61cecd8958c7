"""Faults, end to end: a real `python -m handlers` process against a misbehaving local Stripe emulator."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.ports import Profile
from tests.helpers.servers import (
    ROOT,
    STRIPE_KEY,
    Recorded,
    Server,
    StripeEmulator,
    bearer,
    checkout_body,
    free_port,
    run_server,
    service_env,
)
from tests.helpers.servers import wait_until_up as wait_for_health

TIMEOUT = 1.0  # STRIPE_TIMEOUT: the whole Stripe call's budget
THREADS = 4  # WORKER_THREADS, small so that a leaked thread shows
UNAVAILABLE = "The payment provider is unavailable. Please try again."
STORE_UNAVAILABLE = "Billing information is unavailable right now. Please try again."
CHECKOUT = "/api/stripe/create-checkout"
PORTAL = "/api/stripe/create-portal"


@dataclass(frozen=True)
class Running:
    """The service under test and its process id."""

    server: Server
    pid: int

    def threads(self) -> int:
        """How many threads the server process has now."""
        return len(os.listdir(f"/proc/{self.pid}/task"))


@pytest.fixture(name="running", scope="module")
def _running(emulator: StripeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("faults")
    port = free_port()
    database = folder / "p.sqlite3"
    stderr = folder / "stderr.log"
    settings = {
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "STRIPE_API_BASE": emulator.url,
        "STRIPE_TIMEOUT": str(TIMEOUT),
        "STRIPE_MAX_RETRIES": "2",
        "STRIPE_RETRY_DELAY": "0",
        "WORKER_THREADS": str(THREADS),
    }
    with stderr.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "handlers"],
            env=service_env(port, database, **settings),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            server = Server("hypercorn", f"http://127.0.0.1:{port}", port, database, stderr)
            wait_for_health(server, process)
            yield Running(server, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert "Traceback" not in stderr.read_text()


@pytest.fixture(name="warm")
def _warm(running: Running, emulator: StripeEmulator) -> Iterator[int]:
    """Every handler thread started (THREADS slow calls at once); yields the thread count then."""
    emulator.reset()
    emulator.delay = 0.3
    try:
        statuses = concurrent_checkouts(running, THREADS)
    finally:
        emulator.delay = 0.0
    assert statuses == [200] * THREADS
    emulator.reset()
    yield running.threads()
    emulator.reset()


def post(running: Running, path: str, body: Any, **options: Any) -> requests.Response:
    """POST JSON with a bounded wait."""
    return post_to(running.server, path, body, **options)


def post_to(server: Server, path: str, body: Any, **options: Any) -> requests.Response:
    """POST JSON to `server` with a bounded wait."""
    return requests.post(f"{server.url}{path}", json=body, timeout=30, **options)


def concurrent_checkouts(running: Running, count: int) -> list[int]:
    """The statuses of `count` checkouts sent at once."""
    with ThreadPoolExecutor(count) as pool:
        prices = [f"price_faults_{i}_{time.monotonic_ns()}" for i in range(count)]
        found = pool.map(lambda price: post(running, CHECKOUT, checkout_body(price)).status_code, prices)
        return list(found)


def wait_for_requests(emulator: StripeEmulator, count: int, seconds: float = 5.0) -> list[Recorded]:
    """Wait (bounded) until the emulator has received `count` requests."""
    deadline = time.monotonic() + seconds
    while len(emulator.requests) < count:
        assert time.monotonic() < deadline, f"Stripe got {len(emulator.requests)} of {count} requests"
        time.sleep(0.01)
    return emulator.requests


def test_a_hanging_stripe_ends_at_the_deadline(running: Running, emulator: StripeEmulator, warm: int) -> None:
    """Stripe never answers: the checkout gets its 500 JSON once STRIPE_TIMEOUT has passed, unretried."""
    emulator.set_fault("hang")
    started = time.monotonic()

    response = post(running, CHECKOUT, checkout_body("price_hang"))

    # The emulator would hang until the end of the module: an answer at all is the deadline at work.
    assert (response.status_code, response.json()) == (500, {"error": UNAVAILABLE})
    assert response.headers["content-type"] == "application/json"
    assert time.monotonic() - started >= TIMEOUT  # it waited for Stripe that long, not less
    assert len(emulator.requests) == 1  # the one attempt used the whole budget: no time left to retry


@pytest.fixture(name="patient")
def _patient(emulator: StripeEmulator, tmp_path: Path) -> Iterator[Server]:
    """The service with the longest STRIPE_TIMEOUT: a Stripe call ends only when the emulator lets it."""
    emulator.reset()
    yield from run_server(
        "hypercorn",
        tmp_path,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_API_BASE=emulator.url,
        STRIPE_TIMEOUT="600",
        STRIPE_MAX_RETRIES="0",
        WORKER_THREADS=str(THREADS),
    )
    emulator.reset()


def test_others_are_served_while_a_stripe_call_hangs(patient: Server, emulator: StripeEmulator) -> None:
    """One checkout stuck on Stripe: 400s and /healthz are answered; the stuck one ends when Stripe does."""
    emulator.set_fault("hang")
    answer: dict[str, requests.Response] = {}
    caller = threading.Thread(
        target=lambda: answer.update(stuck=post_to(patient, CHECKOUT, checkout_body("price_hang")))
    )
    caller.start()
    wait_for_requests(emulator, 1)

    for _ in range(5):
        invalid = post_to(patient, CHECKOUT, {})
        health = requests.get(f"{patient.url}/healthz", timeout=10)
        assert (invalid.status_code, invalid.json()) == (400, {"error": "Price ID is required"})
        assert (health.status_code, health.json()) == (200, {"status": "ok", "profiles": "ok"})
    assert caller.is_alive() and answer == {}  # all answered while Stripe still held the checkout

    emulator.set_fault(None)  # Stripe closes the stuck connection unanswered
    caller.join(timeout=30)
    stuck = answer["stuck"]
    assert (stuck.status_code, stuck.json()) == (500, {"error": UNAVAILABLE})


@pytest.mark.parametrize(
    "fault",
    ["status:500", "status:503", "drop", "status:429"],
    ids=["stripe-500", "stripe-503", "dropped-connection", "stripe-429"],
)
def test_failures_are_retried_with_one_idempotency_key_then_500(
    running: Running, emulator: StripeEmulator, warm: int, fault: str
) -> None:
    """5xx, dropped connections and 429 make exactly 1 + STRIPE_MAX_RETRIES attempts, one key, then 500."""
    emulator.set_fault(fault)

    response = post(running, CHECKOUT, checkout_body(f"price_{fault.replace(':', '_')}"))

    assert (response.status_code, response.json()) == (500, {"error": UNAVAILABLE})
    sent = emulator.requests
    assert [(r.method, r.path) for r in sent] == [("POST", "/v1/checkout/sessions")] * 3
    keys = {r.headers["idempotency-key"] for r in sent}
    assert len(keys) == 1
    assert keys.pop().startswith("checkout-")
    assert sent[0].params == sent[1].params == sent[2].params
    expected = None if fault == "drop" else int(fault.removeprefix("status:"))
    assert [r.status for r in sent] == [expected] * 3


def test_a_retry_that_succeeds_answers_200(running: Running, emulator: StripeEmulator, warm: int) -> None:
    """One 503 then a healthy Stripe: the retry's session URL is the answer."""
    emulator.set_fault("status:503")

    def fix_after_the_first_attempt() -> None:
        wait_for_requests(emulator, 1)
        emulator.set_fault(None)

    fixer = threading.Thread(target=fix_after_the_first_attempt)
    fixer.start()
    emulator.delay = 0.2  # the first attempt is answered before the fixer clears the fault

    try:
        response = post(running, CHECKOUT, checkout_body("price_retry_ok"))
    finally:
        emulator.delay = 0.0
        fixer.join(timeout=10)

    sent = emulator.requests
    assert [r.status for r in sent] == [503, 200]
    assert sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]
    assert sent[1].body is not None
    assert (response.status_code, response.json()) == (200, {"url": sent[1].body["url"]})


def test_an_unavailable_profile_store_is_500_and_healthz_503(running: Running, warm: int) -> None:
    """The SQLite file replaced by a folder: portal answers 500 JSON, /healthz 503; both recover after."""
    database = running.server.database
    SQLiteProfiles(database).put(Profile("user-faults", "f@example.com", "cus_faults"))
    moved = database.with_name("moved.sqlite3")
    body = {"returnUrl": "https://app.example.com/account"}
    database.rename(moved)
    database.mkdir()
    try:
        for _ in range(THREADS + 1):  # every handler thread, whatever connection it had open
            response = post(running, PORTAL, body, headers=bearer("user-faults"))
            health = requests.get(f"{running.server.url}/healthz", timeout=10)
            assert (response.status_code, response.json()) == (500, {"error": STORE_UNAVAILABLE})
            assert (health.status_code, health.json()) == (
                503,
                {"status": "unavailable", "profiles": "unavailable"},
            )
    finally:
        database.rmdir()
        moved.rename(database)

    health = requests.get(f"{running.server.url}/healthz", timeout=10)
    assert (health.status_code, health.json()) == (200, {"status": "ok", "profiles": "ok"})


def raw_request(running: Running, body: bytes, declared: int | None = None) -> socket.socket:
    """A socket that has sent a create-checkout request (headers, then `body`, maybe partial)."""
    sock = socket.create_connection(("127.0.0.1", running.server.port), timeout=5)
    head = (
        f"POST {CHECKOUT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if declared is None else declared}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def test_clients_that_leave_mid_body_do_not_hurt_the_server(running: Running, warm: int) -> None:
    """Twenty clients close after half a body: the server serves on with no new thread."""
    for _ in range(20):
        raw_request(running, b'{"priceId": "pri', declared=200).close()

    response = post(running, CHECKOUT, {})
    assert (response.status_code, response.json()) == (400, {"error": "Price ID is required"})
    time.sleep(0.2)
    assert running.threads() == warm


def test_clients_that_leave_during_a_stripe_call_leak_no_handler_thread(
    running: Running, emulator: StripeEmulator, warm: int
) -> None:
    """Every handler thread busy with a hanging Stripe call whose client left: all come back after it."""
    emulator.set_fault("hang")
    body = b'{"priceId":"price_gone","successUrl":"https://a.example/s","cancelUrl":"https://a.example/c",'
    body += b'"mode":"payment"}'
    sockets = [raw_request(running, body) for _ in range(THREADS)]
    wait_for_requests(emulator, THREADS)
    for sock in sockets:
        sock.close()
    time.sleep(TIMEOUT + 0.3)  # each Stripe call ends at its deadline

    # Every handler thread is free again: THREADS new calls all reach a hanging Stripe at once.
    emulator.reset()
    emulator.set_fault("hang")
    with ThreadPoolExecutor(THREADS) as pool:
        pending = [
            pool.submit(post, running, CHECKOUT, checkout_body(f"price_back_{i}")) for i in range(THREADS)
        ]
        wait_for_requests(emulator, THREADS)
        emulator.set_fault(None)  # each ends unanswered; its retry then succeeds
        statuses = [future.result().status_code for future in pending]

    assert statuses == [200] * THREADS
    assert running.threads() == warm
