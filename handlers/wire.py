"""What every entry point does the same way on the wire: request ids, the body limit, JSON bytes out."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable

from .http import HTTPError, Response

TOO_LARGE = "Request body too large"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id(given: str | None) -> str:
    """The caller's X-Request-Id when it is safe to echo, else a fresh 32-hex id."""
    return given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def check_declared_length(headers: Iterable[tuple[str, str]], limit: int) -> None:
    """HTTPError 413 when the Content-Length header already says the body is over `limit`."""
    declared = next((value for name, value in headers if name == "content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, TOO_LARGE)


def check_length(size: int, limit: int) -> None:
    """HTTPError 413 when `size` bytes of body is over `limit`."""
    if size > limit:
        raise HTTPError(413, TOO_LARGE)


def encode(response: Response, request_id: str) -> tuple[list[tuple[str, str]], bytes]:
    """The response headers and JSON body bytes every entry point sends for `response`."""
    body = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("x-request-id", request_id),
        *response.headers,
    ]
    return headers, body
