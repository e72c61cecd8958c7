"""The ASGI 3 shim: bytes in, a Request to `routes`, a Response out as JSON (or a page's bytes)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import routes, wire
from .cors import CORS
from .deps import Deps
from .errors import INTERNAL
from .http import HTTPError, Request, Response
from .wire import TOO_LARGE as TOO_LARGE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("handlers")


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


class App:
    """An ASGI application over the route table; handlers run in a thread pool of their own."""

    def __init__(self, deps: Deps, *, max_body_bytes: int = 64 * 1024, threads: int = 64) -> None:
        self.deps = deps
        self.max_body_bytes = max_body_bytes
        # Sized on purpose: the default pool would let only cpu_count + 4 Stripe calls overlap.
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="handler")
        settings = deps.settings
        self.cors = CORS(settings.allowed_origins, settings.auth_cookie_name, set(routes.ROUTES))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
        )
        request_id = wire.request_id(next((value for name, value in headers if name == "x-request-id"), ""))
        try:
            preflight = self.cors.preflight(scope["method"], scope["path"], headers)
            found = preflight or routes.match(scope["method"], scope["path"])
            if isinstance(found, Response):
                response = found
            else:
                body = await self._read_body(headers, receive)
                client = scope.get("client")
                request = Request(
                    method=scope["method"],
                    path=scope["path"],
                    headers=headers,
                    body=body,
                    query=scope.get("query_string", b"").decode("latin-1"),
                    client=str(client[0]) if client else "",
                    request_id=request_id,
                )
                refused = self.cors.refuse(request) or routes.refusal(found, request, self.deps)
                if refused is not None:
                    response = refused
                else:
                    loop = asyncio.get_running_loop()
                    response = await loop.run_in_executor(
                        self.executor, routes.run, found, request, self.deps
                    )
        except HTTPError as exc:
            response = exc.to_response()
        except ClientGone:
            return
        except Exception:
            log.exception("unhandled error request_id=%s", request_id)
            response = HTTPError(500, INTERNAL).to_response()
        await _send(send, self.cors.label(response, headers), request_id)

    async def _read_body(self, headers: tuple[tuple[str, str], ...], receive: Receive) -> bytes:
        wire.check_declared_length(headers, self.max_body_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            wire.check_length(size, self.max_body_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # What start-up built lives as long as the process: keep the collector from rescanning it.
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.executor.shutdown(wait=True, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send(send: Send, response: Response, request_id: str) -> None:
    pairs, body = wire.encode(response, request_id)
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
