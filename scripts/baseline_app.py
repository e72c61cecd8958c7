"""The raw ASGI baseline for scripts/bench: json.loads and a few ifs; the service's paths and answers.

`python scripts/baseline_app.py PORT` serves it with hypercorn in this one process, as `python -m handlers`
serves the service; `uvicorn --app-dir scripts baseline_app:app` and granian load `app` directly.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]

PRICE_REQUIRED = b'{"error":"Price ID is required"}'
NOT_SIGNED_IN = b'{"error":"You must be logged in to view billing information."}'
RETURN_REQUIRED = b'{"error":"Return URL is required"}'
NO_ACCOUNT = b'{"error":"You don\'t have a billing account yet. Make a purchase first."}'
NOT_JSON = b'{"error":"Request body must be valid JSON"}'


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answer create-checkout's and create-portal's 400s, and /healthz, with no validation library."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    status, answer = 404, b'{"error":"Not found"}'
    path = scope["path"]
    if path == "/healthz":
        status, answer = 200, b'{"status":"ok","profiles":"ok"}'
    elif path in ("/api/stripe/create-checkout", "/api/stripe/create-portal"):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            status, answer = 400, NOT_JSON
        elif path == "/api/stripe/create-checkout":
            status, answer = (400, PRICE_REQUIRED) if not data.get("priceId") else (200, b'{"url":""}')
        elif not any(name == b"cookie" or name == b"authorization" for name, _ in scope["headers"]):
            status, answer = 401, NOT_SIGNED_IN
        else:
            status, answer = (400, RETURN_REQUIRED) if not data.get("returnUrl") else (400, NO_ACCOUNT)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def main() -> None:
    """Serve on 127.0.0.1:PORT with hypercorn, in this process."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{sys.argv[1]}"]
    config.accesslog = None
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
