"""handlers.logs: the service's own lines on stderr, with time, level, logger and request id; text or JSON."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from decimal import Decimal

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


def test_a_json_line_is_the_records_own_time_in_utc_and_its_text_unescaped() -> None:
    """The time is when the record was made, in UTC; non-ASCII stays readable; no request id reads "-"."""
    record = logging.makeLogRecord(
        {"name": "handlers", "levelname": "WARNING", "msg": "caf\u00e9 %s", "args": ("\u2603",)}
    )
    record.created, record.msecs = 1700000000.0, 250.0

    line = logs.JSONFormatter().format(record)

    assert line == (
        '{"time": "2023-11-14T22:13:20.250Z", "level": "WARNING", "logger": "handlers", '
        '"request_id": "-", "message": "caf\u00e9 \u2603"}'
    )


def test_a_field_json_cannot_write_is_written_as_its_text() -> None:
    """An access field that is no JSON value (a Decimal) still gives a whole line, not a lost one."""
    record = logging.makeLogRecord({"name": "handlers.access", "msg": "x", "duration_ms": Decimal("1.5")})

    assert json.loads(logs.JSONFormatter().format(record))["duration_ms"] == "1.5"


def test_an_access_line_gives_the_duration_in_milliseconds(capsys: pytest.CaptureFixture[str]) -> None:
    """A quarter of a second is 250.0ms, in the text and in the JSON field."""
    logs.configure("text")
    logs.access("GET", "/healthz", 200, "req-3", 0.25)
    logs.configure("json")
    logs.access("GET", "/healthz", 200, "req-3", 0.25)

    text, line = capsys.readouterr().err.splitlines()
    assert text.endswith(" INFO handlers.access [req-3] GET /healthz 200 250.0ms")
    assert json.loads(line)["duration_ms"] == 250.0


class Refusing(io.StringIO):
    """A stderr that cannot write the first line it is given (a console without the characters)."""

    def write(self, text: str) -> int:
        if not self.getvalue() and not getattr(self, "refused", False):
            self.refused = True
            raise UnicodeEncodeError("ascii", text, 0, 1, "no such character")
        return super().write(text)


def test_a_line_stderr_refuses_is_reported_with_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """logging's own error report follows, naming the message that could not be written."""
    logs.configure("text")
    stderr = Refusing()
    monkeypatch.setattr(sys, "stderr", stderr)

    logging.getLogger("handlers").warning("caf\u00e9")

    report = stderr.getvalue()
    assert report.startswith("--- Logging error ---\n")
    assert "UnicodeEncodeError" in report and "Message: 'caf\u00e9'\nArguments: ()\n" in report
