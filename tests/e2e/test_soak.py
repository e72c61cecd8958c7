"""A bounded soak: mixed traffic against a real server and Stripe emulator; exact answers, flat memory.

Short by default; `SOAK_SECONDS=60 .venv/bin/pytest tests/e2e/test_soak.py` runs the long one.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.ports import Profile
from tests.helpers.fakes import cookie_header, make_token
from tests.helpers.servers import (
    ISSUER,
    JWT_SECRET,
    STRIPE_KEY,
    Server,
    StripeEmulator,
    checkout_body,
    run_server,
)

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "12"))
WARM_UP_SECONDS = 3.0
CLIENTS = 8
PER_CLIENT = 30  # requests each client sends at the least, whatever the machine's speed
GIVE_UP_SECONDS = 300.0  # beyond the soak, only a server that stopped answering takes this long
CHECKOUT = "/api/stripe/create-checkout"
PORTAL = "/api/stripe/create-portal"
RETURN = {"returnUrl": "https://app.example.com/account"}
CHECKOUT_URL = re.compile(r"https://checkout\.stripe\.com/c/pay/cs_test_a1[0-9a-f]{56}")
PORTAL_URL = re.compile(r"https://billing\.stripe\.com/p/session/test_[A-Za-z0-9_-]+")
MODE = (
    "Mode is required (either 'payment' for one-time payments or 'subscription' for recurring subscription)"
)
FORGED = make_token("a-different-secret-that-is-long-enough-for-hs256", iss=ISSUER)
Expected = tuple[int, Any]
Case = Callable[[requests.Session, str], tuple[requests.Response, Expected]]


def signed_in(user: str) -> dict[str, str]:
    """A session cookie (as @supabase/ssr sets it) for `user`."""
    return {"Cookie": cookie_header(make_token(JWT_SECRET, iss=ISSUER, sub=user), name="sb-127-auth-token")}


def cases() -> dict[str, Case]:
    """Each kind of request in the mix, with the exact answer the contract gives it."""
    with_customer, without = signed_in("soak-customer"), signed_in("soak-nobody")
    bad = {"priceId": "price_x", "successUrl": "https://a.example/s", "cancelUrl": "https://a.example/c"}
    return {
        "checkout-200": lambda s, url: (
            s.post(url + CHECKOUT, json=checkout_body("price_soak")),
            (200, None),
        ),
        "checkout-signed-in-200": lambda s, url: (
            s.post(url + CHECKOUT, json=checkout_body("price_soak_in"), headers=with_customer),
            (200, None),
        ),
        "checkout-unknown-price-500": lambda s, url: (
            s.post(url + CHECKOUT, json=checkout_body("price_missing_soak")),
            (500, {"error": "No such price: 'price_missing_soak'"}),
        ),
        "checkout-empty-400": lambda s, url: (
            s.post(url + CHECKOUT, json={}),
            (400, {"error": "Price ID is required"}),
        ),
        "checkout-no-urls-400": lambda s, url: (
            s.post(url + CHECKOUT, json={"priceId": "price_x", "mode": "payment"}),
            (400, {"error": "Success and cancel URLs are required"}),
        ),
        "checkout-no-mode-400": lambda s, url: (s.post(url + CHECKOUT, json=bad), (400, {"error": MODE})),
        "checkout-not-json-400": lambda s, url: (
            s.post(url + CHECKOUT, data=b"{nope", headers={"Content-Type": "application/json"}),
            (400, {"error": "Request body must be valid JSON"}),
        ),
        "portal-anonymous-401": lambda s, url: (
            s.post(url + PORTAL, json=RETURN),
            (401, {"error": "You must be logged in to view billing information."}),
        ),
        "portal-forged-401": lambda s, url: (
            s.post(url + PORTAL, json=RETURN, headers={"Authorization": "Bearer " + FORGED}),
            (401, {"error": "You must be logged in to view billing information."}),
        ),
        "portal-no-account-400": lambda s, url: (
            s.post(url + PORTAL, json=RETURN, headers=without),
            (400, {"error": "You don't have a billing account yet. Make a purchase first."}),
        ),
        "portal-200": lambda s, url: (s.post(url + PORTAL, json=RETURN, headers=with_customer), (200, None)),
        "healthz-200": lambda s, url: (s.get(url + "/healthz"), (200, {"status": "ok", "profiles": "ok"})),
    }


def answered_as_expected(response: requests.Response, expected: Expected, name: str) -> bool:
    """The exact status and body; a 200 body is the emulator's URL for that kind of session."""
    if response.headers.get("content-type") != "application/json":
        return False
    status, body = expected
    if status == 200 and body is None:
        pattern = PORTAL_URL if name.startswith("portal") else CHECKOUT_URL
        found = response.json()
        return (
            response.status_code == 200
            and list(found) == ["url"]
            and bool(pattern.fullmatch(str(found["url"])))
        )
    return (response.status_code, response.json()) == expected


def drive(url: str, seconds: float, seed: int) -> tuple[Counter[str], list[str]]:
    """Random cases on `CLIENTS` connections for `seconds`, at least PER_CLIENT each; counts, wrong answers.

    A slow machine soaks longer, never less: how much is sent does not depend on the machine's speed.
    """
    table = cases()
    names = sorted(table)
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    give_up_at = stop_at + GIVE_UP_SECONDS

    def client(index: int) -> None:
        pick = random.Random(seed * 100 + index)
        sent = 0
        with requests.Session() as session:
            while (time.monotonic() < stop_at or sent < PER_CLIENT) and time.monotonic() < give_up_at:
                sent += 1
                name = pick.choice(names)
                try:
                    response, expected = table[name](session, url)
                    ok = answered_as_expected(response, expected, name)
                    seen = f"{response.status_code} {response.text[:200]}"
                except Exception as exc:  # anything else is a wrong answer too, never a dead client
                    ok, seen = False, repr(exc)
                with lock:
                    counts[name] += 1
                    if not ok:
                        wrong.append(f"{name}: {seen}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + GIVE_UP_SECONDS + 30)
    return counts, wrong


def rss_kib(pid: int) -> int:
    """The process's resident memory, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(name="emulator", scope="module")
def _emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator(delay=0.005) as emulator:
        yield emulator


@pytest.fixture(name="server", scope="module")
def _server(emulator: StripeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from run_server(
        "hypercorn",
        tmp_path_factory.mktemp("soak"),
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_API_BASE=emulator.url,
        STRIPE_MAX_RETRIES="0",
        STRIPE_TIMEOUT="5",
    )


def server_pid(server: Server) -> int:
    """The pid of the process listening on the server's port (found through /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == server.port:
            inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    raise AssertionError(f"nothing listens on port {server.port}")


def test_soak_every_answer_is_the_contracts_and_memory_stays_flat(
    server: Server, emulator: StripeEmulator
) -> None:
    """Mixed valid, invalid and signed-out traffic: no unexpected answer, RSS within 10% of warm-up."""
    SQLiteProfiles(server.database).put(Profile("soak-customer", "s@example.com", "cus_soak"))
    pid = server_pid(server)

    warm_counts, warm_wrong = drive(server.url, WARM_UP_SECONDS, seed=1)
    after_warm_up = rss_kib(pid)
    counts, wrong = drive(server.url, SOAK_SECONDS, seed=2)
    after_soak = rss_kib(pid)

    assert warm_wrong == []
    assert wrong == [], f"{len(wrong)} unexpected answers, first: {wrong[:5]}"
    assert set(counts) == set(cases()), "every kind of request was sent"
    assert sum(counts.values()) >= PER_CLIENT * CLIENTS
    assert after_soak <= after_warm_up * 1.10, f"RSS {after_warm_up} KiB -> {after_soak} KiB"
    total = sum(counts.values())
    print(f"\nsoak: {total} requests in {SOAK_SECONDS:.0f} s, RSS {after_warm_up} -> {after_soak} KiB")
