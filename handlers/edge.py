"""The service for hosts without ASGI, such as a Pyodide edge worker: a plain call over the same Router."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

from .router import Router


class Edge:
    """(method, URL, headers, body bytes) in, (status, header pairs, body bytes) out."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def handle(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        client: str = "",
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one request; never raises. `url` may be absolute or just the path and query; `client`
        is the caller's address when the host knows it."""
        try:
            parts = urlsplit(url)
        except ValueError:  # an unreadable URL names no route
            parts = urlsplit("/")
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        # The path as an ASGI server gives it: percent-escapes decoded, never empty.
        answer = self.router.respond(
            method, unquote(parts.path) or "/", pairs, bytes(body), parts.query, client
        )
        return answer.status, answer.headers, answer.body
