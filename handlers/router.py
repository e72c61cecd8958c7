"""The one way from a plain request to the bytes answered, shared by every entry point:
match -> body limit -> CORS -> pure checks -> handler -> errors to JSON -> response schema -> bytes."""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, TypeVar

from . import contract
from .cors import CORS
from .deps import Deps
from .http import Headers, HTTPError, Request, Response
from .ports import KeysUnavailable, PaymentsError, StoreError

log = logging.getLogger("handlers")

INTERNAL = "Internal server error"
NOT_FOUND = "Not found"
TOO_LARGE = "Request body too large"
SESSION_UNVERIFIABLE = "Your session could not be verified right now. Please try again."
STORE_UNAVAILABLE = "Billing information is unavailable right now. Please try again."

T = TypeVar("T")
Handler = Callable[[Request, Deps], Response]
Call = Callable[[], Response]
Pairs = Iterable[tuple[str, str]]
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _json_encoder() -> Callable[[Any], str]:
    """One compact JSON encoder for every response: the C encoder made once, as JSONEncoder makes it, or
    else the encoder's own `encode` (json.dumps builds one per call: a third of an error body's cost)."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]  # None without the C accelerator
    if make is None:
        return encoder.encode
    try:
        basestring = json.encoder.encode_basestring
        chunks = make(None, encoder.default, basestring, None, ":", ",", False, False, True)
        probe = {"error": '\u00e9"', "n": [1, 2.5, None, True]}
        if "".join(chunks(probe, 0)) != '{"error":"\u00e9\\"","n":[1,2.5,null,true]}':
            return encoder.encode
    except Exception:  # another interpreter's private signature
        return encoder.encode
    return lambda value: "".join(chunks(value, 0))


_to_json = _json_encoder()


class Answer(NamedTuple):
    """What goes on the wire: status, header pairs, body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Route:
    """How one method on one path is answered, and the schemas its bodies must satisfy; `prepare` makes the
    checks that need no I/O and returns the handler's call, bound to what they produced."""

    prepare: Callable[[Request, Deps], Call]
    ok_schema: str
    error_schema: str = contract.ERROR


def route(handler: Handler, ok: str, error: str = contract.ERROR) -> Route:
    """A route whose handler makes every check itself."""
    return Route(lambda request, deps: partial(handler, request, deps), ok, error)


def checked_route(
    check: Callable[[Request, Deps], T], handler: Callable[[Request, Deps, T], Response], ok: str
) -> Route:
    """A route whose pure `check` runs first; the handler gets what it returned, so a body is parsed once."""
    return Route(lambda request, deps: partial(handler, request, deps, check(request, deps)), ok)


def request_id(given: str | None) -> str:
    """The caller's X-Request-Id when it is safe to echo, else a fresh 32-hex id."""
    # Not uuid4: its os.urandom call cost 15% of a 400 answer under load here (py-spy, scripts/bench).
    return given if given and _REQUEST_ID.fullmatch(given) else f"{random.getrandbits(128):032x}"


class Pending(NamedTuple):
    """A request whose head found its route, waiting for its body."""

    route: Route
    method: str
    path: str
    headers: Headers
    query: str
    client: str
    request_id: str


class Router:
    """The route table and the pipeline: a host calls `head`, then `body`, then runs the call returned (in a
    thread when it may block); `respond` does all three for hosts that hold the body."""

    def __init__(self, deps: Deps, routes: Mapping[str, Mapping[str, Route]]) -> None:
        self.deps = deps
        self.max_body_bytes = deps.settings.max_body_bytes
        self._routes = {path: dict(methods) for path, methods in routes.items()}
        self._prefixes: dict[str, dict[str, Route]] = {}
        # Preflights are answered for the exact paths only, as before any feature added pages.
        self.cors = CORS(deps.settings.allowed_origins, deps.settings.auth_cookie_name, set(self._routes))

    def add_prefix(self, prefix: str, methods: Mapping[str, Route]) -> None:
        """Route every path that is `prefix` and one more segment: "/offline/checkout/<id>"."""
        self._prefixes[prefix] = dict(methods)

    def match(self, method: str, path: str) -> Route | Response:
        """The route for (method, path), or the 404 / 405 response to send instead."""
        methods = self._routes.get(path) or next(
            (found for prefix, found in self._prefixes.items() if _one_segment(path, prefix)), None
        )
        if methods is None:
            return _error(404, NOT_FOUND)
        if method not in methods:
            return _error(405, "Method not allowed", (("allow", ", ".join(sorted(methods))),))
        return methods[method]

    def head(
        self, method: str, path: str, headers: Pairs, query: str = "", client: str = ""
    ) -> Answer | Pending:
        """What the head alone decides (a preflight, 404, 405, 413 by Content-Length), else the Pending."""
        method = method.upper()
        lowered = tuple([(name.lower(), value) for name, value in headers])
        given = declared = None
        for name, value in lowered:  # one pass for both: a third of what the head cost
            if name == "x-request-id":
                given = value if given is None else given
            elif name == "content-length":
                declared = value if declared is None else declared
        rid = request_id(given)
        try:
            preflight = self.cors.preflight(method, path, lowered)
            found = self.match(method, path) if preflight is None else preflight
        except Exception as exc:
            return self._finish(lowered, rid, _unexpected(exc, rid))
        if isinstance(found, Response):  # a preflight, or 404 / 405: labelled once, like every answer
            return self._finish(lowered, rid, found)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return self._finish(lowered, rid, _error(413, TOO_LARGE))
        return Pending(found, method, path, lowered, query, client, rid)

    def body(self, pending: Pending, body: bytes) -> Answer | Callable[[], Answer]:
        """The refusal of a body over the limit, of CORS or of the pure checks; else the call to run."""
        route, method, path, headers, query, client, rid = pending
        if len(body) > self.max_body_bytes:
            return self._finish(headers, rid, _error(413, TOO_LARGE))
        request = Request(method, path, headers, body, query, client, rid)
        try:
            refused = self.cors.refuse(request)
            if refused is not None:
                return self._finish(headers, rid, refused)
            call = route.prepare(request, self.deps)
        except Exception as exc:
            return self._finish(headers, rid, self.failed(route, request, exc))
        return lambda: self._finish(headers, rid, self.run(route, request, call))

    def respond(
        self, method: str, path: str, headers: Pairs, body: bytes, query: str = "", client: str = ""
    ) -> Answer:
        """The whole pipeline in one call, for hosts that hold the whole body; never raises."""
        head = self.head(method, path, headers, query, client)
        step = self.body(head, body) if isinstance(head, Pending) else head
        return step if isinstance(step, Answer) else step()

    def dispatch(self, request: Request) -> Response:
        """Match and run `request` as it is: no body limit, no CORS, no bytes; never raises."""
        found = self.match(request.method, request.path)
        if isinstance(found, Response):
            return found
        return self.run(found, request, lambda: found.prepare(request, self.deps)())

    def run(self, route: Route, request: Request, call: Call) -> Response:
        """The handler's response, checked against the contract; never raises."""
        try:
            return self._checked(route, request, call())
        except Exception as exc:
            return self.failed(route, request, exc)

    def failed(self, route: Route, request: Request, exc: Exception) -> Response:
        """The documented answer to what a route raised: the one place errors become bodies."""
        if isinstance(exc, HTTPError):
            response = _error(exc.status, exc.message)
        elif isinstance(exc, PaymentsError):
            response = _error(500, exc.message)  # written by the adapter to be shown
        elif isinstance(exc, KeysUnavailable):
            response = _error(500, SESSION_UNVERIFIABLE)
        elif isinstance(exc, StoreError):
            response = _error(500, STORE_UNAVAILABLE)
        else:
            return _unexpected(exc, request.request_id)
        return self._checked(route, request, response)

    def _checked(self, route: Route, request: Request, response: Response) -> Response:
        if isinstance(response.body, bytes):  # a page: HTML is outside the JSON contract
            return response
        schema = route.ok_schema if response.status < 400 else route.error_schema
        problem = self.deps.contract.first_error(schema, response.body)
        if problem is None:
            return response
        log.error("response breaks %s request_id=%s: %s", schema, request.request_id, problem)
        return _error(500, INTERNAL)

    def _finish(self, headers: Headers, rid: str, response: Response) -> Answer:
        try:
            response = self.cors.label(response, headers)
        except Exception as exc:
            response = _unexpected(exc, rid)
        return _encode(response, rid)


def _unexpected(exc: Exception, rid: str) -> Response:
    log.error("unhandled error request_id=%s", rid, exc_info=exc)
    return _error(500, INTERNAL)


def _error(status: int, message: str, headers: Headers = ()) -> Response:
    return Response(status, {"error": message}, headers)


def _one_segment(path: str, prefix: str) -> bool:
    rest = path.removeprefix(prefix)
    return rest != path and bool(rest) and "/" not in rest


def _encode(response: Response, request_id: str) -> Answer:
    """Headers and bytes for `response`: JSON, or a page's bytes with its own content-type."""
    if response.status == 204:  # no body, so no content-type and (RFC 9110, 8.6) no content-length
        return Answer(204, [("x-request-id", request_id), *response.headers], b"")
    raw = isinstance(response.body, bytes)
    body = response.body if raw else _to_json(response.body).encode()
    typed = () if raw else (("content-type", "application/json"),)
    headers = [*typed, ("content-length", str(len(body))), ("x-request-id", request_id), *response.headers]
    return Answer(response.status, headers, body)
