"""Where the contract suite sends its requests: a service it starts itself, or `--base-url`.

This suite speaks only HTTP; it never imports the service's code.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    """The deployment under test and the credentials the run was given."""

    base_url: str
    jwt_secret: str | None
    issuer: str | None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract", "billing API contract suite")
    group.addoption(
        "--base-url",
        default=os.environ.get("CONTRACT_BASE_URL"),
        help="run against this deployment instead of a locally started service",
    )
    group.addoption(
        "--jwt-secret",
        default=os.environ.get("CONTRACT_JWT_SECRET"),
        help="the deployment's SUPABASE_JWT_SECRET, to mint signed-in users",
    )
    group.addoption(
        "--supabase-url",
        default=os.environ.get("CONTRACT_SUPABASE_URL"),
        help="the deployment's SUPABASE_URL (sets the tokens' issuer)",
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with status {process.returncode}")
        try:
            requests.get(f"{base_url}/healthz", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"the service did not answer on {base_url} within {seconds} s")


@pytest.fixture(name="target", scope="session")
def _target(request: pytest.FixtureRequest) -> Iterator[Target]:
    base_url = request.config.getoption("--base-url")
    if base_url:
        supabase_url = request.config.getoption("--supabase-url")
        yield Target(
            base_url.rstrip("/"),
            request.config.getoption("--jwt-secret"),
            f"{supabase_url.rstrip('/')}/auth/v1" if supabase_url else None,
        )
        return
    port = _free_port()
    secret = secrets.token_urlsafe(48)
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "SUPABASE_"))},
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SUPABASE_URL": "http://127.0.0.1:54321",
            "SUPABASE_JWT_SECRET": secret,
            "DATABASE_URL": f"sqlite:///{folder}/profiles.sqlite3",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "handlers"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base_url, process)
            yield Target(base_url, secret, "http://127.0.0.1:54321/auth/v1")
        finally:
            process.terminate()
            process.wait(timeout=10)
