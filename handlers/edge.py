"""The routes for a plain call: (method, URL, headers, body bytes) in, (status, headers, body bytes) out.

For hosts without ASGI, such as a Pyodide edge worker or a browser: the caller builds `Deps` once (with
its own adapters) and calls `handle` per request. Routing, errors and JSON are the ASGI shim's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from . import routes, wire
from .cors import CORS
from .deps import Deps
from .errors import INTERNAL
from .http import HTTPError, Request, Response

log = logging.getLogger("handlers")

PlainResponse = tuple[int, list[tuple[str, str]], bytes]


def handle(
    method: str,
    url: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    deps: Deps,
    *,
    client: str = "",
    max_body_bytes: int = 64 * 1024,
) -> PlainResponse:
    """Answer one request; never raises. `url` may be absolute or just the path and query."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lowered = tuple((name.lower(), value) for name, value in pairs)
    request_id = wire.request_id(next((value for name, value in lowered if name == "x-request-id"), ""))
    # The same split-deployment rules as the ASGI shim: preflights, labels, no cross-site cookie POSTs.
    cors = CORS(deps.settings.allowed_origins, deps.settings.auth_cookie_name, set(routes.ROUTES))
    try:
        parts = urlsplit(url)
        found = cors.preflight(method.upper(), parts.path, lowered) or routes.match(
            method.upper(), parts.path or "/"
        )
        if isinstance(found, Response):
            response = found
        else:
            wire.check_declared_length(lowered, max_body_bytes)
            wire.check_length(len(body), max_body_bytes)
            request = Request(
                method=method.upper(),
                path=parts.path,
                headers=lowered,
                body=bytes(body),
                query=parts.query,
                client=client,
                request_id=request_id,
            )
            response = cors.refuse(request) or routes.run(found, request, deps)
    except HTTPError as exc:
        response = exc.to_response()
    except Exception:
        log.exception("unhandled error request_id=%s", request_id)
        response = HTTPError(500, INTERNAL).to_response()
    response_headers, data = wire.encode(cors.label(response, lowered), request_id)
    return response.status, response_headers, data
