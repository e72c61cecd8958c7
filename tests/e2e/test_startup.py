"""Start-up as an operator meets it: the summary, a store that is down, an address that cannot be used."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers.hosts import LOG_TIME, clean_env, free_port, running

BIN = Path(sys.executable).parent
KEY = "sk_test_startup0123456789abcdef"
JWT_SECRET = "startup-jwt-secret-that-is-long-enough-for-hs256"
DB_PASSWORD = "s3cr3t-db-pw"


def hypercorn_factory(port: int) -> list[str]:
    """hypercorn on its own command line, serving the factory."""
    return [str(BIN / "hypercorn"), "--bind", f"127.0.0.1:{port}", "handlers.app:create_app()"]


def closed_port() -> int:
    """A loopback port nothing listens on (nothing should start there during the test)."""
    return free_port()


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`argv` run to its end in `cwd`, its output captured as text."""
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_start_up_summary_names_each_fact_and_no_secret(tmp_path: Path) -> None:
    """A test key without a webhook secret: one line per fact, the webhook warning, no secret printed."""
    port = free_port()
    env = clean_env(
        STRIPE_SECRET_KEY=KEY,
        SUPABASE_URL="http://127.0.0.1:54321",
        SUPABASE_JWT_SECRET=JWT_SECRET,
        ALLOWED_ORIGINS="https://app.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3",
    )

    with running(hypercorn_factory(port), tmp_path, port, env) as server:
        log = server.log()

    lines = [re.sub(rf"^{LOG_TIME} ", "", line) for line in log.splitlines() if " handlers [-] " in line]
    assert lines == [
        "INFO handlers [-] stripe: test mode",
        f"WARNING handlers [-] store: sqlite {tmp_path}/p.sqlite3, a local file: a container loses it unless"
        " it is on a volume (DATABASE_URL)",
        "WARNING handlers [-] webhook: STRIPE_WEBHOOK_SECRET is not set: every webhook event will be"
        " answered 500",
        "INFO handlers [-] sessions: HS256 (SUPABASE_JWT_SECRET) and ES256/RS256 from"
        " http://127.0.0.1:54321/auth/v1/.well-known/jwks.json",
        "INFO handlers [-] cors: https://app.example.com",
        "INFO handlers [-] redirects: any origin (ALLOWED_REDIRECT_ORIGINS is not set)",
    ], log
    assert KEY not in log and JWT_SECRET not in log and "sk_test_" not in log


def test_healthz_answers_503_in_time_when_postgres_is_down(tmp_path: Path) -> None:
    """DATABASE_URL on a closed port: /healthz answers 503 to a probe that waits 5 s, not a timeout."""
    port = free_port()
    database = f"postgresql://billing:{DB_PASSWORD}@127.0.0.1:{closed_port()}/app"
    env = clean_env(STRIPE_SECRET_KEY=KEY, DATABASE_URL=database)

    with running(hypercorn_factory(port), tmp_path, port, env, healthy=False) as server:
        probes = [requests.get(f"{server.url}/healthz", timeout=5) for _ in range(3)]
        log = server.log()

    assert [(probe.status_code, probe.json()) for probe in probes] == [
        (503, {"status": "unavailable", "profiles": "unavailable"})
    ] * 3
    assert DB_PASSWORD not in log


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([sys.executable, "-m", "handlers"], id="python-m-handlers"),
        pytest.param([str(BIN / "uvicorn"), "--factory", "handlers.app:create_app"], id="uvicorn-factory"),
    ],
)
def test_check_store_refuses_to_start_while_the_store_is_down(command: list[str], tmp_path: Path) -> None:
    """CHECK_STORE=on with the database down: the process stops, saying why, and names no password."""
    port = free_port()
    database = f"postgresql://billing:{DB_PASSWORD}@127.0.0.1:{closed_port()}/app"
    env = clean_env(
        STRIPE_SECRET_KEY=KEY, DATABASE_URL=database, CHECK_STORE="on", HOST="127.0.0.1", PORT=str(port)
    )
    argv = [*command, "--port", str(port)] if "uvicorn" in command[0] else command

    done = run(argv, tmp_path, env)

    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert (
        "configuration error: CHECK_STORE=on and the profile store does not answer: profile ping failed"
        in output
    )
    assert DB_PASSWORD not in output


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    """`python -m handlers` on a port another process listens on exits 1 with one line saying so."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = clean_env(HOST="127.0.0.1", PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3")
        done = run([sys.executable, "-m", "handlers"], tmp_path, env)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"cannot listen on 127.0.0.1:{port}: the address is already in use (set PORT)\n"


def test_an_unresolvable_host_is_one_line(tmp_path: Path) -> None:
    """A HOST that names no address exits 1 with one line naming HOST (glibc refuses it without DNS)."""
    env = clean_env(HOST="host..invalid", PORT="8000", DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3")

    done = run([sys.executable, "-m", "handlers"], tmp_path, env)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "cannot listen on host..invalid:8000: HOST does not resolve to an address\n"
