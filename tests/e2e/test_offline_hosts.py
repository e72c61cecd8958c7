"""The offline stand-in under real hosts: links from where the request arrived, several worker processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from tests.helpers.fakes import make_token
from tests.helpers.hosts import clean_env, free_port, running

BIN = Path(sys.executable).parent
SECRET = "offline-hosts-jwt-secret-that-is-long-enough"
CHECKOUT = {
    "priceId": "price_workers",
    "successUrl": "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}",
    "cancelUrl": "https://app.example.com/pricing",
    "mode": "subscription",
}


def hypercorn_factory(port: int, *options: str) -> list[str]:
    """hypercorn serving the factory, as the README of earlier releases said."""
    return [str(BIN / "hypercorn"), *options, "--bind", f"127.0.0.1:{port}", "handlers.app:create_app()"]


def uvicorn_factory(port: int, *options: str) -> list[str]:
    """uvicorn serving the factory."""
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return [
        str(BIN / "uvicorn"),
        "--factory",
        "handlers.app:create_app",
        *options,
        *address,
        "--no-access-log",
    ]


def test_offline_links_point_where_the_request_arrived(tmp_path: Path) -> None:
    """Bound by hypercorn's own --bind, with HOST=0.0.0.0 and PORT=8000 set: links name the request's host."""
    port = free_port()
    env = clean_env(HOST="0.0.0.0", PORT="8000", DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3")

    with running(hypercorn_factory(port), tmp_path, port, env) as server:
        direct = requests.post(f"{server.url}/api/stripe/create-checkout", json=CHECKOUT, timeout=10)
        named = requests.post(
            f"{server.url}/api/stripe/create-checkout",
            json=CHECKOUT,
            headers={"Host": "billing.test:4443", "X-Forwarded-Host": "evil.example"},
            timeout=10,
        )
        page = requests.get(direct.json()["url"], timeout=10)

    assert direct.json()["url"].startswith(f"http://127.0.0.1:{port}/offline/checkout/cs_offline_")
    assert named.json()["url"].startswith("http://billing.test:4443/offline/checkout/cs_offline_")
    assert page.status_code == 200


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(lambda port: hypercorn_factory(port, "--workers", "2"), id="hypercorn-w2"),
        pytest.param(lambda port: uvicorn_factory(port, "--workers", "2"), id="uvicorn-workers2"),
    ],
)
def test_offline_purchase_loops_with_two_workers(command: object, tmp_path: Path) -> None:
    """Ten checkout -> page -> Pay loops on fresh connections all pay, and each webhook links its user."""
    port = free_port()
    database = tmp_path / "p.sqlite3"
    env = clean_env(DATABASE_URL=f"sqlite:///{database}", SUPABASE_JWT_SECRET=SECRET)
    assert callable(command)
    outcomes = []

    with running(command(port), tmp_path, port, env) as server:
        for n in range(10):
            user = f"00000000-0000-4000-8000-{n:012d}"
            token = make_token(SECRET, iss=None, sub=user, email=f"user{n}@example.com")
            created = requests.post(
                f"{server.url}/api/stripe/create-checkout",
                json=CHECKOUT,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            url = created.json()["url"]
            page = requests.get(url, timeout=10)
            paid = requests.post(url, timeout=10, allow_redirects=False)
            outcomes.append((created.status_code, page.status_code, paid.status_code))
        log = server.log()

    assert outcomes == [(200, 200, 303)] * 10, log
    store = SQLiteProfiles(database)
    linked = [store.get(f"00000000-0000-4000-8000-{n:012d}") for n in range(10)]
    assert all(profile is not None and profile.has_access for profile in linked)
