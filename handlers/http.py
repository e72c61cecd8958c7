"""The vocabulary every module speaks: a plain Request, a plain Response, and HTTPError."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request as plain data; header names are lower-case, the body is the raw bytes."""

    method: str
    path: str
    headers: Headers = ()
    body: bytes = b""
    query: str = ""
    client: str = ""
    request_id: str = ""

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def cookies(self) -> dict[str, str]:
        """Cookies from every Cookie header, values URL-decoded; the first of a repeated name wins."""
        jar: dict[str, str] = {}
        for key, value in self.headers:
            if key != "cookie":
                continue
            for pair in value.split(";"):
                name, sep, raw = pair.partition("=")
                name = name.strip()
                if sep and name and name not in jar:
                    jar[name] = unquote(raw.strip().strip('"'))
        return jar


@dataclass(frozen=True, slots=True)
class Response:
    """A JSON response as plain data: `body` is serialised by whoever sends it.

    A `bytes` body is sent as it is, with the content-type its headers name (the offline pages only).
    """

    status: int
    body: Any
    headers: Headers = field(default=())


class HTTPError(Exception):
    """Raised inside a handler to answer `status` with `{"error": message}` (the router writes the body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
