"""The service's own log lines, alike under every host: time, level, logger and request id; text or JSON.
Its own stderr handler and no propagation: what a host does with the root logger changes nothing."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar

# The request being answered in this task or handler thread; "-" outside any request.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
ACCESS = logging.getLogger("handlers.access")
TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_ACCESS_FIELDS = ("method", "path", "status", "duration_ms")


def _with_request_id(record: logging.LogRecord) -> bool:
    """Gives every record the request id of the request it was logged for (or "-")."""
    if not hasattr(record, "request_id"):
        record.request_id = REQUEST_ID.get()
    return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line, for log collectors: time (UTC), level, logger, request_id, message."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON; an exception's traceback goes in `exception`."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, object] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        line.update({key: getattr(record, key) for key in _ACCESS_FIELDS if hasattr(record, key)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is when a line is logged (a host or a test may replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


# Ours, and the PostgreSQL driver's pool, whose warnings (a refused connection) would print bare.
LOGGERS = {"handlers": logging.INFO, "psycopg": logging.WARNING}


def configure(log_format: str) -> None:
    """Send our loggers' lines to stderr in `log_format` (text or json); calling it again replaces it."""
    handler = _Stderr()
    handler.addFilter(_with_request_id)
    handler.setFormatter(JSONFormatter() if log_format == "json" else logging.Formatter(TEXT))
    for name, level in LOGGERS.items():
        logger = logging.getLogger(name)
        for old in [found for found in logger.handlers if isinstance(found, _Stderr)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def access(method: str, path: str, status: int, request_id: str, seconds: float) -> None:
    """One access line for an answered request: method, path (no query), status, duration, request id."""
    if not path.isprintable():  # a decoded %0A must not start a forged line
        path = path.encode("unicode_escape").decode()
    duration_ms = round(seconds * 1000, 1)
    fields = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
    ACCESS.info(
        "%s %s %d %.1fms", method, path, status, duration_ms, extra={"request_id": request_id, **fields}
    )
