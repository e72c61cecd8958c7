"""The deployment under test: given by `--base-url`, or a service this suite starts and stops itself.

Speaks only HTTP and the process boundary; it never imports the service's code.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests

ROOT = Path(__file__).resolve().parent.parent
# A checkout of the service holds what a local run starts; an installed suite has only itself.
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "handlers" / "__main__.py").is_file()
NEEDS_BASE_URL = (
    "needs --base-url URL (or CONTRACT_BASE_URL): the origin of the deployment to check, "
    "e.g. https://staging.example.com (only a checkout of billing-handlers can start the service itself)"
)
LOCAL_SUPABASE_URL = "http://127.0.0.1:54321"
START_SECONDS = 30.0
# The documented profile table; the service creates the same one when it is missing.
PROFILES_TABLE = """
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY,
    email TEXT,
    customer_id TEXT,
    price_id TEXT,
    has_access INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class Target:
    """Where requests go and what the run was given to sign in and to pay with."""

    base_url: str
    run_id: str
    local: bool = False
    jwt_secret: str | None = None
    supabase_url: str | None = None
    access_token: str | None = None
    no_billing_access_token: str | None = None
    price_id: str | None = None
    price_mode: str = "payment"
    offline_stripe: bool = False

    @property
    def issuer(self) -> str | None:
        """The `iss` of the deployment's access tokens, when its Supabase URL is known."""
        return f"{self.supabase_url.rstrip('/')}/auth/v1" if self.supabase_url else None

    @property
    def cookie_name(self) -> str | None:
        """The @supabase/ssr session cookie's name, when the Supabase URL is known."""
        if not self.supabase_url:
            return None
        host = urlsplit(self.supabase_url).hostname or ""
        return f"sb-{host.split('.')[0]}-auth-token"


def new_run_id() -> str:
    """An id for one run, put in every user, URL and idempotency key it creates."""
    return uuid.uuid4().hex[:12]


def mint(secret: str, issuer: str | None, subject: str, email: str, lifetime: int = 600) -> str:
    """A Supabase-style HS256 access token."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "aud": "authenticated",
        "role": "authenticated",
        "email": email,
        "iat": now,
        "exp": now + lifetime,
    }
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_billing_user(database: Path, run_id: str) -> str:
    """Write a profile with a Stripe customer into a new SQLite file; return the user id."""
    user_id = str(uuid.uuid4())
    with sqlite3.connect(database) as db:
        db.execute(PROFILES_TABLE)
        db.execute(
            "INSERT INTO profiles (id, email, customer_id, has_access) VALUES (?, ?, ?, 1)",
            (user_id, f"contract-{run_id}-billing@example.com", f"cus_contract_{run_id}"),
        )
    db.close()
    return user_id


@contextmanager
def local_service(run_id: str | None = None, stripe_api_base: str | None = None) -> Iterator[Target]:
    """Start `python -m handlers` (hypercorn, temp SQLite, new JWT secret); always stop it.

    Payments go to the offline stand-in, or with `stripe_api_base` to a Stripe emulator listening there.
    """
    if not CHECKOUT:
        raise RuntimeError(f"no service to start: {ROOT} is not a checkout of billing-handlers")
    run = run_id or new_run_id()
    port = free_port()
    secret = secrets.token_urlsafe(48)
    issuer = f"{LOCAL_SUPABASE_URL}/auth/v1"
    with tempfile.TemporaryDirectory(prefix="contract-") as tmp:
        folder = Path(tmp)
        database = folder / "profiles.sqlite3"
        billing_user = seed_billing_user(database, run)
        kept = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
        env = {name: value for name, value in os.environ.items() if name in kept} | {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SUPABASE_URL": LOCAL_SUPABASE_URL,
            "SUPABASE_JWT_SECRET": secret,
            "DATABASE_URL": f"sqlite:///{database}",
        }
        if stripe_api_base:
            env |= {
                "STRIPE_SECRET_KEY": f"sk_test_contract_{secrets.token_hex(12)}",
                "STRIPE_API_BASE": stripe_api_base,
                "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
            }
        log_path = folder / "service.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "handlers"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
            try:
                base_url = f"http://127.0.0.1:{port}"
                _wait_until_up(base_url, process, log_path)
                yield Target(
                    base_url=base_url,
                    run_id=run,
                    local=True,
                    jwt_secret=secret,
                    supabase_url=LOCAL_SUPABASE_URL,
                    access_token=mint(secret, issuer, billing_user, f"contract-{run}-billing@example.com"),
                    price_id=f"price_contract_{run}",
                    offline_stripe=not stripe_api_base,
                )
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text("utf-8", "replace")[-2000:]
            raise RuntimeError(f"the service exited with status {process.returncode}:\n{tail}")
        try:
            requests.get(f"{base_url}/healthz", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"the service did not answer on {base_url} within {START_SECONDS} s")


def main(argv: list[str]) -> int:
    """Run a command with CONTRACT_* variables pointing at a freshly started local service."""
    if not argv:
        print("usage: python -m contract_tests.deployment COMMAND [ARG...]", file=sys.stderr)
        return 2
    with local_service() as target:
        env = os.environ | {
            "CONTRACT_BASE_URL": target.base_url,
            "CONTRACT_JWT_SECRET": target.jwt_secret or "",
            "CONTRACT_SUPABASE_URL": target.supabase_url or "",
            "CONTRACT_RUN_ID": target.run_id,
        }
        return subprocess.run(argv, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
