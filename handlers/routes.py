"""The route table and the one place where a request becomes a response, whatever happens.

Shared by the ASGI shim and any other entry point: match, run the handler, turn HTTPError into its
JSON body, turn anything unexpected into the documented 500, and check every body against its schema.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from . import contract
from .checkout import create_checkout, read_checkout
from .deps import Deps
from .errors import INTERNAL
from .health import healthz
from .http import HTTPError, Request, Response
from .offline_pages import checkout_page, pay, portal_page
from .openapi import OPENAPI_RESPONSE, SCHEMA_RESPONSE, SERVED_SCHEMAS, openapi_document, schema_file
from .portal import create_portal
from .webhook import stripe_webhook

log = logging.getLogger("handlers")

Handler = Callable[[Request, Deps], Response]


@dataclass(frozen=True, slots=True)
class Route:
    """A handler and the schemas its success and error bodies must satisfy."""

    handler: Handler
    ok_schema: str
    error_schema: str = contract.ERROR
    page: bool = False  # answers HTML (bytes), exempt from the JSON contract; its errors stay JSON
    # Checks that do no I/O, run by the ASGI shim on the event loop: a request they refuse is answered
    # without a trip to the thread pool. The handler must make the same checks itself.
    precheck: Callable[[Request, Deps], object] | None = None


ROUTES: dict[str, dict[str, Route]] = {
    "/api/stripe/create-checkout": {
        "POST": Route(create_checkout, contract.CHECKOUT_RESPONSE, precheck=read_checkout),
    },
    "/api/stripe/create-portal": {
        "POST": Route(create_portal, contract.PORTAL_RESPONSE),
    },
    "/healthz": {
        "GET": Route(healthz, contract.HEALTH_RESPONSE, contract.HEALTH_RESPONSE),
    },
    "/api/webhook/stripe": {
        "POST": Route(stripe_webhook, contract.WEBHOOK_RESPONSE),
    },
    "/openapi.json": {
        "GET": Route(openapi_document, OPENAPI_RESPONSE),
    },
    **{f"/{name}": {"GET": Route(schema_file, SCHEMA_RESPONSE)} for name in SERVED_SCHEMAS},
}

# Paths that end in one id segment: "/offline/checkout/<id>" matches "/offline/checkout/".
PREFIX_ROUTES: dict[str, dict[str, Route]] = {
    "/offline/checkout/": {
        "GET": Route(checkout_page, contract.ERROR, page=True),
        "POST": Route(pay, contract.ERROR, page=True),
    },
    "/offline/portal/": {
        "GET": Route(portal_page, contract.ERROR, page=True),
    },
}


def match(method: str, path: str, routes: dict[str, dict[str, Route]] = ROUTES) -> Route | Response:
    """The route for (method, path), or the 404 / 405 response to send instead."""
    methods = routes.get(path)
    if methods is None:
        methods = _by_prefix(path, PREFIX_ROUTES)
    if methods is None:
        return HTTPError(404, "Not found").to_response()
    route = methods.get(method)
    if route is None:
        allow = ", ".join(sorted(methods))
        return HTTPError(405, "Method not allowed", (("allow", allow),)).to_response()
    return route


def run(route: Route, request: Request, deps: Deps) -> Response:
    """Call the handler; never raises, and every body it returns matches the contract."""
    try:
        response = route.handler(request, deps)
    except HTTPError as exc:
        response = exc.to_response()
    except Exception:
        log.exception("unhandled error request_id=%s", request.request_id)
        return HTTPError(500, INTERNAL).to_response()
    return _checked(route, request, deps, response)


def refusal(route: Route, request: Request, deps: Deps) -> Response | None:
    """The answer when the route's precheck refuses the request, else None; never raises."""
    if route.precheck is None:
        return None
    try:
        route.precheck(request, deps)
    except HTTPError as exc:
        return _checked(route, request, deps, exc.to_response())
    except Exception:
        log.exception("unhandled error request_id=%s", request.request_id)
        return HTTPError(500, INTERNAL).to_response()
    return None


def _checked(route: Route, request: Request, deps: Deps, response: Response) -> Response:
    if route.page and isinstance(response.body, bytes):
        return response
    schema = route.ok_schema if response.status < 400 else route.error_schema
    body = response.body
    if isinstance(body, dict) and len(body) == 1 and isinstance(body.get("error"), str):
        problem = deps.contract.error_body_problem(schema, body["error"])
    else:
        problem = deps.contract.first_error(schema, body)
    if problem is not None:
        log.error("response breaks %s request_id=%s: %s", schema, request.request_id, problem)
        return HTTPError(500, INTERNAL).to_response()
    return response


def dispatch(request: Request, deps: Deps) -> Response:
    """Match and run in one call."""
    found = match(request.method, request.path)
    return found if isinstance(found, Response) else run(found, request, deps)


def _by_prefix(path: str, prefixes: dict[str, dict[str, Route]]) -> dict[str, Route] | None:
    for prefix, methods in prefixes.items():
        rest = path.removeprefix(prefix)
        if rest != path and rest and "/" not in rest:
            return methods
    return None
