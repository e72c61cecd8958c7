"""Real service processes for end-to-end tests: start on a free port, wait until up, always stop."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers.fakes import make_token

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from stripe_emulator import Recorded as Recorded  # noqa: E402
from stripe_emulator import StripeEmulator as StripeEmulator  # noqa: E402

STRIPE_KEY = "sk_test_serve0123456789abcdef"
JWT_SECRET = "serve-test-jwt-secret-that-is-long-enough-for-hs256"
SUPABASE_URL = "http://127.0.0.1:54321"
ISSUER = f"{SUPABASE_URL}/auth/v1"
READY_SECONDS = 20.0
REQUEST_ID = re.compile(r"[0-9a-f]{32}")
WEBHOOK_SECRET = "whsec_serve_0123456789abcdef0123456789"
ACCOUNT = "https://app.example.com/account"


@dataclass(frozen=True)
class Server:
    """A running service process and where to reach it."""

    name: str
    url: str
    port: int
    database: Path
    stderr: Path


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(port: int, database: Path, **settings: str) -> dict[str, str]:
    """A clean environment for the service: only these settings, whatever the developer's shell has."""
    kept = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "TMPDIR")}
    return kept | {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SUPABASE_URL": SUPABASE_URL,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": f"sqlite:///{database}",
        **settings,
    }


def command(name: str, port: int) -> list[str]:
    """How each host starts the service."""
    if name == "hypercorn":
        return [sys.executable, "-m", "handlers"]
    factory = ["-m", "uvicorn", "--factory", "handlers.app:create_app", "--no-access-log"]
    return [sys.executable, *factory, "--host", "127.0.0.1", "--port", str(port)]


def run_server(name: str, folder: Path, **settings: str) -> Iterator[Server]:
    """Start the service, wait (bounded) until /healthz answers 200, and always stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database = folder / "p.sqlite3"
    stderr = folder / "stderr.log"
    with stderr.open("wb") as log:
        process = subprocess.Popen(
            command(name, port),
            env=service_env(port, database, **settings),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            server = Server(name, f"http://127.0.0.1:{port}", port, database, stderr)
            wait_until_up(server, process)
            yield server
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL when the process is still there after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_until_up(server: Server, process: subprocess.Popen[bytes]) -> None:
    """Return once GET /healthz answers 200; fail with the server's stderr if it exits or never does."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{server.name} exited with {process.returncode}:\n{server.stderr.read_text()}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    pytest.fail(
        f"{server.name} did not answer /healthz within {READY_SECONDS} s:\n{server.stderr.read_text()}"
    )


def expect(response: requests.Response, status: int, body: Any) -> None:
    """Exactly this status and JSON body, served as application/json with a request id."""
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["content-type"] == "application/json"
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])


def post(server: Server, path: str, json: Any = None, **options: Any) -> requests.Response:
    """POST to the service with a bounded wait."""
    return requests.post(f"{server.url}{path}", json=json, timeout=10, **options)


def since(emulator: StripeEmulator, mark: int) -> list[Recorded]:
    """The emulator's requests after the first `mark`."""
    return emulator.requests[mark:]


def bearer(user_id: str, email: str = "ada@example.com") -> dict[str, str]:
    """An Authorization header for a signed-in user of the test project."""
    return {"Authorization": f"Bearer {make_token(JWT_SECRET, iss=ISSUER, sub=user_id, email=email)}"}


def checkout_body(price: str) -> dict[str, str]:
    """A valid create-checkout body for `price`, with Stripe's session id template in successUrl."""
    return {
        "priceId": price,
        "successUrl": "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}",
        "cancelUrl": "https://app.example.com/cancel",
        "mode": "payment",
    }


def deliver(server: Server, payload: bytes, header: str | None) -> requests.Response:
    """POST raw bytes to the webhook as Stripe does."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return requests.post(f"{server.url}/api/webhook/stripe", data=payload, headers=headers, timeout=10)
