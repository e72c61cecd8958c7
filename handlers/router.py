"""The one way from a plain request to its bytes, shared by every entry point.

match -> body limit -> CORS -> pure checks -> handler -> errors to JSON -> response schema -> bytes. The
ASGI shim and the edge entry only move bytes in and out; everything they send is decided here.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple, TypeVar

from . import contract
from .cors import CORS
from .deps import Deps
from .http import HTTPError, Request, Response
from .ports import KeysUnavailable, PaymentsError, StoreError

log = logging.getLogger("handlers")

INTERNAL = "Internal server error"
NOT_FOUND = "Not found"
NOT_ALLOWED = "Method not allowed"
TOO_LARGE = "Request body too large"
SESSION_UNVERIFIABLE = "Your session could not be verified right now. Please try again."
STORE_UNAVAILABLE = "Billing information is unavailable right now. Please try again."

T = TypeVar("T")
Handler = Callable[[Request, Deps], Response]
Call = Callable[[], Response]
# One encoder for every response: json.dumps with options builds a new one per call.
_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class Answer(NamedTuple):
    """What goes on the wire: the status, the header pairs and the body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Route:
    """How one method on one path is answered, and the schemas its bodies must satisfy.

    `prepare` makes the checks that need no I/O (an HTTPError refuses the request) and returns the
    handler's call, bound to what those checks produced; the host runs that call where I/O may block.
    """

    prepare: Callable[[Request, Deps], Call]
    ok_schema: str
    error_schema: str = contract.ERROR
    page: bool = False  # answers HTML (bytes), exempt from the JSON contract; its errors stay JSON


def route(
    handler: Handler, ok_schema: str, error_schema: str = contract.ERROR, *, page: bool = False
) -> Route:
    """A route whose handler makes every check itself."""
    return Route(lambda request, deps: partial(handler, request, deps), ok_schema, error_schema, page)


def checked_route(
    check: Callable[[Request, Deps], T],
    handler: Callable[[Request, Deps, T], Response],
    ok_schema: str,
    error_schema: str = contract.ERROR,
) -> Route:
    """A route whose pure `check` runs first; the handler gets what it returned, so a body is parsed once."""

    def prepare(request: Request, deps: Deps) -> Call:
        return partial(handler, request, deps, check(request, deps))

    return Route(prepare, ok_schema, error_schema)


def request_id(given: str | None) -> str:
    """The caller's X-Request-Id when it is safe to echo, else a fresh 32-hex id."""
    # Not uuid4: its os.urandom call cost 15% of a 400 answer under load here (py-spy, scripts/bench).
    return given if given and _REQUEST_ID.fullmatch(given) else f"{random.getrandbits(128):032x}"


class Router:
    """The route table, and everything between a plain request and the bytes answered to it."""

    def __init__(self, deps: Deps, routes: Mapping[str, Mapping[str, Route]] | None = None) -> None:
        self.deps = deps
        self.max_body_bytes = deps.settings.max_body_bytes
        self._routes: dict[str, dict[str, Route]] = {}
        self._prefixes: dict[str, dict[str, Route]] = {}
        # Preflights are answered for the exact paths only: the live set, so routes added later count.
        self._api_paths: set[str] = set()
        self.cors = CORS(deps.settings.allowed_origins, deps.settings.auth_cookie_name, self._api_paths)
        for path, methods in (routes or {}).items():
            self.add(path, methods)

    def add(self, path: str, methods: Mapping[str, Route]) -> None:
        """Route `path` exactly."""
        self._routes[path] = dict(methods)
        self._api_paths.add(path)

    def add_prefix(self, prefix: str, methods: Mapping[str, Route]) -> None:
        """Route every path that is `prefix` followed by one segment: "/offline/checkout/<id>"."""
        self._prefixes[prefix] = dict(methods)

    def paths(self) -> dict[str, dict[str, Route]]:
        """A copy of the exact routes, by path and method."""
        return {path: dict(methods) for path, methods in self._routes.items()}

    def match(self, method: str, path: str) -> Route | Response:
        """The route for (method, path), or the 404 / 405 response to send instead."""
        methods = self._routes.get(path)
        if methods is None:
            methods = self._by_prefix(path)
        if methods is None:
            return _error(404, NOT_FOUND)
        found = methods.get(method)
        if found is None:
            return _error(405, NOT_ALLOWED, (("allow", ", ".join(sorted(methods))),))
        return found

    def respond(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        query: str = "",
        client: str = "",
    ) -> Answer:
        """The whole pipeline in one call, for hosts that have the body before they ask; never raises."""
        exchange = self.begin(method, path, headers, query=query, client=client)
        if exchange.answer is not None:
            return exchange.answer
        if exchange.too_large(len(body)):
            return exchange.refuse_too_large()
        step = exchange.check(body)
        return step if isinstance(step, Answer) else step()

    def begin(
        self, method: str, path: str, headers: Iterable[tuple[str, str]], *, query: str = "", client: str = ""
    ) -> Exchange:
        """Start answering a request from its head; the body follows through the Exchange."""
        return Exchange(self, method, path, headers, query, client)

    def dispatch(self, request: Request) -> Response:
        """Match and run `request` as it is: no body limit, no CORS, no bytes; never raises."""
        found = self.match(request.method, request.path)
        if isinstance(found, Response):
            return found
        try:
            call = found.prepare(request, self.deps)
        except Exception as exc:
            return self.failed(found, request, exc)
        return self.run(found, request, call)

    def run(self, route: Route, request: Request, call: Call) -> Response:
        """The handler's response, checked against the contract; never raises."""
        try:
            return self._checked(route, request, call())
        except Exception as exc:
            return self.failed(route, request, exc)

    def failed(self, route: Route, request: Request, exc: Exception) -> Response:
        """The documented answer for an exception a route raised; anything unexpected is logged."""
        if isinstance(exc, HTTPError):
            response = _error(exc.status, exc.message, exc.headers)
        elif isinstance(exc, PaymentsError):
            response = _error(500, exc.message)  # always safe to show: the adapter wrote it
        elif isinstance(exc, KeysUnavailable):
            response = _error(500, SESSION_UNVERIFIABLE)
        elif isinstance(exc, StoreError):
            response = _error(500, STORE_UNAVAILABLE)
        else:
            log.error("unhandled error request_id=%s", request.request_id, exc_info=exc)
            return _error(500, INTERNAL)
        return self._checked(route, request, response)

    def _checked(self, route: Route, request: Request, response: Response) -> Response:
        if route.page and isinstance(response.body, bytes):
            return response
        schema = route.ok_schema if response.status < 400 else route.error_schema
        body = response.body
        if isinstance(body, dict) and len(body) == 1 and isinstance(body.get("error"), str):
            problem = self.deps.contract.error_body_problem(schema, body["error"])
        else:
            problem = self.deps.contract.first_error(schema, body)
        if problem is not None:
            log.error("response breaks %s request_id=%s: %s", schema, request.request_id, problem)
            return _error(500, INTERNAL)
        return response

    def _by_prefix(self, path: str) -> dict[str, Route] | None:
        for prefix, methods in self._prefixes.items():
            rest = path.removeprefix(prefix)
            if rest != path and rest and "/" not in rest:
                return methods
        return None


class Exchange:
    """One request on its way through a Router: answered from its head, or waiting for its body."""

    def __init__(
        self,
        router: Router,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]],
        query: str,
        client: str,
    ) -> None:
        self._router = router
        self._method = method.upper()
        self._path = path
        self._headers = tuple((name.lower(), value) for name, value in headers)
        self._query = query
        self._client = client
        self.request_id = request_id(_header(self._headers, "x-request-id"))
        self._route: Route | None = None
        # Set when the head alone decides: a preflight, 404, 405, or 413 by Content-Length.
        self.answer: Answer | None = None
        try:
            preflight = router.cors.preflight(self._method, path, self._headers)
            if preflight is not None:
                self.answer = _encode(preflight, self.request_id)  # it carries its CORS headers already
                return
            found = router.match(self._method, path)
            if isinstance(found, Response):
                self.answer = self._finish(found)
                return
            declared = _header(self._headers, "content-length")
            if declared is not None and declared.isdigit() and self.too_large(int(declared)):
                self.answer = self.refuse_too_large()
                return
            self._route = found
        except Exception as exc:
            self.answer = self._finish(self._unexpected(exc))

    def too_large(self, size: int) -> bool:
        """Whether `size` bytes of body are over the limit; hosts that stream ask as the body grows."""
        return size > self._router.max_body_bytes

    def refuse_too_large(self) -> Answer:
        """The 413 for a body over the limit."""
        return self._finish(_error(413, TOO_LARGE))

    def check(self, body: bytes) -> Answer | Callable[[], Answer]:
        """With the body: the refusal of CORS or of the route's pure checks, or the handler's call to run."""
        route = self._route
        assert route is not None, "check() is for requests not answered from their head"
        request = Request(
            method=self._method,
            path=self._path,
            headers=self._headers,
            body=body,
            query=self._query,
            client=self._client,
            request_id=self.request_id,
        )
        router = self._router
        try:
            refused = router.cors.refuse(request)
            if refused is not None:
                return self._finish(refused)
            call = route.prepare(request, router.deps)
        except Exception as exc:
            return self._finish(router.failed(route, request, exc))
        return lambda: self._finish(router.run(route, request, call))

    def _unexpected(self, exc: Exception) -> Response:
        log.error("unhandled error request_id=%s", self.request_id, exc_info=exc)
        return _error(500, INTERNAL)

    def _finish(self, response: Response) -> Answer:
        try:
            labelled = self._router.cors.label(response, self._headers)
        except Exception as exc:
            labelled = self._unexpected(exc)
        return _encode(labelled, self.request_id)


def _error(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, {"error": message}, headers)


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


def _encode(response: Response, request_id: str) -> Answer:
    """The headers and bytes for `response`: JSON, or a page's bytes with its own content-type."""
    raw = isinstance(response.body, bytes)
    if response.status == 204:
        body = b""
    elif raw:
        body = response.body
    else:
        body = _to_json(response.body).encode("utf-8")
    headers = [
        *(() if raw or response.status == 204 else (("content-type", "application/json"),)),
        ("content-length", str(len(body))),
        ("x-request-id", request_id),
        *response.headers,
    ]
    return Answer(response.status, headers, body)
