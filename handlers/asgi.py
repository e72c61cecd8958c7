"""The ASGI 3 shim: read the body, hand it to the Router, send what it answers. Handlers run in a pool of
their own; what the Router refuses without I/O is answered on the event loop, without that hop."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .router import Answer, Router

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Told of each answered request: method, path, status, request id, seconds from head to last byte.
Access = Callable[[str, str, int, str, float], None]


class App:
    """An ASGI application over a Router."""

    def __init__(self, router: Router, *, threads: int | None = None, access: Access | None = None) -> None:
        """`threads` handler threads, by default the WORKER_THREADS setting; `access` hears each answer."""
        self.router = router
        self.access = access
        # Sized on purpose: the default pool would let only cpu_count + 4 Stripe calls overlap.
        workers = threads or router.deps.settings.worker_threads
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handler")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        client = scope.get("client")
        head = self.router.head(
            scope["method"],
            scope["path"],
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", ())],
            scope.get("query_string", b"").decode("latin-1"),
            str(client[0]) if client else "",
        )
        if isinstance(head, Answer):
            answer = head
        else:
            body = await self._read_body(receive, await receive())
            if body is None:
                return  # the client went away before its body arrived: nobody to answer
            step = self.router.body(head, body)
            if isinstance(step, Answer):
                answer = step
            else:
                answer = await asyncio.get_running_loop().run_in_executor(self.executor, step)
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        if self.access is not None:
            rid = next(value for name, value in answer.headers if name == "x-request-id")  # always sent
            self.access(scope["method"], scope["path"], answer.status, rid, time.perf_counter() - started)

    async def _read_body(self, receive: Receive, message: Message) -> bytes | None:
        """The body from `message` on, read no further than past the limit (413 then); None on disconnect."""
        chunks: list[bytes] = []
        size = 0
        while size <= self.router.max_body_bytes:
            if chunks:
                message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # What start-up built lives as long as the process: keep the collector from rescanning it.
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.executor.shutdown(cancel_futures=True)  # and waits for the running ones
                await send({"type": "lifespan.shutdown.complete"})
                return
