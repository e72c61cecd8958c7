"""Drive an ASGI app in-process: one request in, status, headers and parsed JSON out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handlers.asgi import App, Message


@dataclass(frozen=True)
class Result:
    """What the app sent back; `pairs` holds the header lines as sent, repeats kept."""

    status: int
    headers: dict[str, str]
    body: bytes
    pairs: list[tuple[str, str]]  # the headers as sent, in order, repeats kept

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    app: App,
    method: str,
    path: str,
    body: bytes | list[bytes] = b"",
    headers: dict[str, str] | None = None,
    client: tuple[str, int] = ("203.0.113.7", 50000),
    query: str = "",
) -> Result:
    """Send one HTTP request through `app`; a list body is sent as several chunks."""
    chunks = body if isinstance(body, list) else [body]
    incoming: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "query_string": query.encode("latin-1"),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": client,
    }
    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
    return Result(
        status=start["status"],
        headers=dict(pairs),
        body=b"".join(m.get("body", b"") for m in sent[1:]),
        pairs=pairs,
    )


def expect(result: Result, status: int, body: Any) -> None:
    """Exactly this status and JSON body, served as application/json."""
    assert (result.status, result.json()) == (status, body)
    assert result.headers["content-type"] == "application/json"
