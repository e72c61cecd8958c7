"""The service's own log lines under each host's own command: time, level, logger, request id, access."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers.hosts import LOG_TIME, clean_env, free_port, running

BIN = Path(sys.executable).parent
KEY = "sk_test_logs0123456789abcdef"


def hypercorn_factory(port: int) -> list[str]:
    """hypercorn's own command line, serving the factory."""
    return [str(BIN / "hypercorn"), "--bind", f"127.0.0.1:{port}", "handlers.app:create_app()"]


def uvicorn_factory(port: int) -> list[str]:
    """uvicorn's own command line, serving the factory, its own access log off."""
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return [str(BIN / "uvicorn"), "--factory", "handlers.app:create_app", *address, "--no-access-log"]


def python_m_handlers(port: int) -> list[str]:
    """What scripts/serve runs (HOST and PORT come from the environment)."""
    return [sys.executable, "-m", "handlers"]


def exchange(url: str) -> None:
    """One refused checkout and one probe, each with a request id of ours."""
    requests.post(f"{url}/api/stripe/create-checkout", json={}, headers={"X-Request-Id": "log-1"}, timeout=10)
    requests.get(f"{url}/healthz", headers={"X-Request-Id": "log-2"}, timeout=10)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(hypercorn_factory, id="hypercorn"),
        pytest.param(uvicorn_factory, id="uvicorn"),
        pytest.param(python_m_handlers, id="python-m-handlers"),
    ],
)
def test_own_lines_have_time_level_logger_and_an_access_line_per_request(
    command: object, tmp_path: Path
) -> None:
    """INFO and WARNING lines print with time, level and logger; each request logs one access line."""
    port = free_port()
    env = clean_env(
        STRIPE_SECRET_KEY=KEY,
        DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3",
        HOST="127.0.0.1",
        PORT=str(port),
    )
    assert callable(command)

    with running(command(port), tmp_path, port, env) as server:
        exchange(server.url)
        log = server.log_with("[log-2] GET /healthz")

    assert re.search(rf"^{LOG_TIME} INFO handlers \[-\] stripe: test mode$", log, re.M), log
    assert re.search(
        rf"^{LOG_TIME} WARNING handlers \[-\] webhook: STRIPE_WEBHOOK_SECRET is not set", log, re.M
    )
    access = re.findall(
        rf"^{LOG_TIME} INFO handlers\.access \[(log-\d)\] (\w+ \S+ \d+) \d+\.\dms$", log, re.M
    )
    assert access == [("log-1", "POST /api/stripe/create-checkout 400"), ("log-2", "GET /healthz 200")], log
    assert KEY not in log


def test_json_lines_and_no_access_lines_when_asked(tmp_path: Path) -> None:
    """LOG_FORMAT=json prints one JSON object per line; ACCESS_LOG=off leaves the access lines out."""
    port = free_port()
    database = f"sqlite:///{tmp_path}/p.sqlite3"
    env = clean_env(STRIPE_SECRET_KEY=KEY, DATABASE_URL=database, LOG_FORMAT="json", ACCESS_LOG="off")

    with running(uvicorn_factory(port), tmp_path, port, env) as server:
        exchange(server.url)
    log = server.log()  # read once the process has stopped: a late line cannot be missed

    ours = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert {"stripe: test mode", "cors: off (ALLOWED_ORIGINS is not set)"} <= {
        line["message"] for line in ours
    }
    assert all(set(line) >= {"time", "level", "logger", "request_id", "message"} for line in ours)
    assert all(line["logger"] != "handlers.access" for line in ours)
    assert "/healthz" not in log
