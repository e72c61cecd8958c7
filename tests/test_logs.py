"""handlers.logs: the service's own lines on stderr, with time, level, logger and request id; text or JSON."""

from __future__ import annotations

import json
import logging
import re

import pytest

from handlers import logs

TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def test_text_lines_carry_time_level_logger_and_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    """A line outside any request shows "-"; inside one, its id; neither propagates to the root logger."""
    logs.configure("text")
    logging.getLogger("handlers.webhook").warning("outside")
    token = logs.REQUEST_ID.set("req-7")
    try:
        logging.getLogger("handlers").info("inside %s", "a request")
    finally:
        logs.REQUEST_ID.reset(token)
    logging.getLogger("handlers").debug("not shown")

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(rf"{TIME} WARNING handlers\.webhook \[-\] outside", lines[0])
    assert re.fullmatch(rf"{TIME} INFO handlers \[req-7\] inside a request", lines[1])
    assert logging.getLogger("handlers").propagate is False


def test_configuring_twice_keeps_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    """A second configure replaces the first handler (and its format): each line prints once."""
    logs.configure("text")
    logs.configure("json")
    logging.getLogger("handlers").warning("once")

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["message"] == "once"


def test_json_lines_hold_the_access_fields_and_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    """JSON: one object per line; access lines add method, path, status and duration; errors their trace."""
    logs.configure("json")
    logs.access("POST", "/api/stripe/create-checkout", 400, "req-1", 0.00123)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("handlers").exception("failed")

    access, failure = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", access.pop("time"))
    assert access == {
        "level": "INFO",
        "logger": "handlers.access",
        "request_id": "req-1",
        "message": "POST /api/stripe/create-checkout 400 1.2ms",
        "method": "POST",
        "path": "/api/stripe/create-checkout",
        "status": 400,
        "duration_ms": 1.2,
    }
    assert failure["message"] == "failed" and "ValueError: boom" in failure["exception"]


def test_an_access_line_cannot_be_split_by_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    """A path with a decoded newline is escaped, so it cannot forge a second line."""
    logs.configure("text")
    logs.access("GET", "/x\n2026-01-01 00:00:00,000 INFO handlers [-] forged", 404, "req-2", 0.0)

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("[req-2] GET /x\\n2026-01-01 00:00:00,000 INFO handlers [-] forged 404 0.0ms")


def test_the_database_pools_warnings_are_formatted_too(capsys: pytest.CaptureFixture[str]) -> None:
    """psycopg's pool warns of refused connections: those lines get our format; its INFO does not print."""
    logs.configure("text")
    logging.getLogger("psycopg.pool").warning("error connecting in 'pool-1'")
    logging.getLogger("psycopg.pool").info("quiet")

    [line] = capsys.readouterr().err.splitlines()
    assert re.fullmatch(rf"{TIME} WARNING psycopg\.pool \[-\] error connecting in 'pool-1'", line)
