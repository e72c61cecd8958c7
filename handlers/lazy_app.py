"""An ASGI app built on first use (`handlers.app:app`), for hosts that import an object: importing it does
no I/O; it is built at lifespan start (hypercorn, uvicorn, granian) or at the first request (daphne)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the shim is imported by whoever builds the app: an edge worker never loads it
    from .asgi import App, Message, Receive, Scope, Send

_INTERNAL = b'{"error":"Internal server error"}'


class LazyApp:
    """An ASGI application that is `build()` once, the first time a host calls it."""

    def __init__(self, build: Callable[[], App]) -> None:
        self._build = build
        self._app: App | None = None
        self._failed: str | None = None
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is not None:
            await app(scope, receive, send)
        elif scope["type"] == "lifespan":
            startup = await receive()
            try:
                app = self.get()
            except SystemExit as stop:
                # The host reports it and stops; it is also the one line the operator needs.
                await send({"type": "lifespan.startup.failed", "message": str(stop.code)})
                return
            await app(scope, _replay(startup, receive), send)
        elif scope["type"] == "http":
            try:
                app = self.get()
            except SystemExit:
                await _internal_error(send)
                return
            await app(scope, receive, send)

    def get(self) -> App:
        """The built app; SystemExit (with the configuration error) when it cannot be built."""
        with self._lock:
            if self._app is None:
                if self._failed is not None:
                    raise SystemExit(self._failed)
                try:
                    self._app = self._build()
                except SystemExit as stop:
                    self._failed = str(stop.code)
                    print(self._failed, file=sys.stderr, flush=True)
                    raise
            return self._app


def _replay(first: Message, receive: Receive) -> Receive:
    """`receive` that first gives back the message already read."""
    pending = [first]

    async def again() -> Message:
        return pending.pop() if pending else await receive()

    return again


async def _internal_error(send: Send) -> None:
    """Without a service (its configuration is refused) every request is a 500, never a hang."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_INTERNAL)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": _INTERNAL})
