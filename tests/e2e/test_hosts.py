"""The README's deploy commands, run as written (bound to loopback): every ASGI host serves the app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.helpers.hosts import HOSTS, LOG_TIME, clean_env, free_port, local, readme_commands, running

EMPTY = "Price ID is required"
CHECKOUT = {
    "priceId": "price_hosts",
    "successUrl": "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}",
    "cancelUrl": "https://app.example.com/pricing",
    "mode": "payment",
}


def test_the_readme_names_a_command_for_every_host() -> None:
    """The deploy section names hypercorn, uvicorn, granian and daphne, each serving handlers.app:app."""
    commands = readme_commands()

    assert sorted(commands) == sorted(HOSTS)
    assert all("handlers.app:app" in command.split() for command in commands.values())


@pytest.mark.parametrize("host", HOSTS)
def test_the_readmes_command_serves_the_api(host: str, tmp_path: Path) -> None:
    """Under `host`: 400 for an empty checkout, 200 /healthz, offline loops that pay, our own log lines."""
    port = free_port()
    command = local(readme_commands()[host], port)

    with running(command, tmp_path, port, clean_env()) as server:
        empty = requests.post(f"{server.url}/api/stripe/create-checkout", json={}, timeout=10)
        health = requests.get(f"{server.url}/healthz", headers={"X-Request-Id": f"probe-{host}"}, timeout=10)
        paid = []
        for n in range(4):
            url = requests.post(f"{server.url}/api/stripe/create-checkout", json=CHECKOUT, timeout=10).json()
            page = requests.get(url["url"], timeout=10)
            email = {"email": f"buyer{n}@example.com"}
            pay = requests.post(url["url"], data=email, timeout=10, allow_redirects=False)
            paid.append((page.status_code, pay.status_code, pay.headers.get("location", "").split("=")[0]))
        log = server.log_with(f"[probe-{host}] GET /healthz")

    assert (empty.status_code, empty.json()) == (400, {"error": EMPTY})
    assert (health.status_code, health.json()) == (200, {"status": "ok", "profiles": "ok"})
    assert paid == [(200, 303, "https://app.example.com/ok?session_id")] * 4
    assert re.search(rf"^{LOG_TIME} WARNING handlers \[-\] stripe: OFFLINE stand-in", log, re.M), log
    assert re.search(
        rf"^{LOG_TIME} INFO handlers\.access \[probe-{host}\] GET /healthz 200 \d+\.\dms$", log, re.M
    ), log
