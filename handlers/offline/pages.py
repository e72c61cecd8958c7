"""The offline stand-in's pages: a checkout that pays and notifies the webhook, and a portal.

Routed only when the service runs the stand-in (no STRIPE_SECRET_KEY): `routes()` is what the
composition root adds then.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import parse_qs

from ..contract import ERROR
from ..deps import Deps
from ..http import HTTPError, Request, Response
from ..router import NOT_FOUND, Route, route
from ..webhook import NOT_CONFIGURED, PATH, signature_header
from .payments import CHECKOUT_PAGES, PORTAL_PAGES, OfflinePayments

log = logging.getLogger("handlers.offline")

HTML = (("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store"))
# How a page hands the signed event to the webhook route: the router's own dispatch.
Deliver = Callable[[Request], Response]


def routes(stand_in: OfflinePayments, deliver: Deliver) -> dict[str, dict[str, Route]]:
    """The pages' routes by path prefix (one id segment follows), for the composition root to add."""
    return {
        CHECKOUT_PAGES: {
            "GET": route(lambda request, deps: checkout_page(request, deps, stand_in), ERROR),
            "POST": route(lambda request, deps: pay(request, deps, stand_in, deliver), ERROR),
        },
        PORTAL_PAGES: {"GET": route(lambda request, deps: portal_page(request, deps, stand_in), ERROR)},
    }


def checkout_page(request: Request, deps: Deps, stand_in: OfflinePayments) -> Response:
    """GET /offline/checkout/<id>: the session and a Pay button (HTML); 404 "Not found" for an unknown id."""
    session_id, session = _checkout(request, stand_in)
    if session.get("status") == "complete":
        link = _attr(_success_url(session, session_id))
        body = f'<p>This checkout is paid.</p><p><a href="{link}">Continue</a></p>'
        return _page("Offline checkout", body)
    price = ", ".join(str(item.get("price")) for item in session.get("line_items", []))
    email = session.get("customer_email") or ""
    readonly = " readonly" if email else ""
    body = (
        "<p>This is the <strong>offline</strong> Stripe stand-in: no payment is made.</p>"
        f"<p>Mode: {escape(str(session.get('mode')))}<br>Price: {escape(price)}</p>"
        f'<form method="post"><label>Email <input type="email" name="email" value="{_attr(email)}"{readonly}>'
        '</label> <button type="submit">Pay</button></form>'
        f'<p><a href="{_attr(str(session.get("cancel_url") or ""))}">Cancel</a></p>'
    )
    return _page("Offline checkout", body)


def pay(request: Request, deps: Deps, stand_in: OfflinePayments, deliver: Deliver) -> Response:
    """POST /offline/checkout/<id>: pay, deliver a signed `checkout.session.completed` to the webhook, 303.

    - 303 to the session's success_url ({CHECKOUT_SESSION_ID} filled in) once the webhook answered 200
    - 404 "Not found" for an unknown session
    - 502 "The webhook answered <status>: <error>" when the service's own webhook refused the event
    The form may carry `email` for a checkout that had none. Paying a paid session only redirects.
    """
    session_id, session = _checkout(request, stand_in)
    if session.get("status") != "complete":
        form = parse_qs(request.body.decode("utf-8", "replace"))
        email = (form.get("email") or [""])[0].strip() or None
        now = int(deps.clock())
        event = stand_in.completed_event(session_id, email, now)
        if event is None:
            raise HTTPError(404, NOT_FOUND)
        _deliver(event, now, request, deps, deliver)
        stand_in.mark_complete(session_id)
    return Response(303, b"", (("location", _success_url(session, session_id)), *HTML))


def portal_page(request: Request, deps: Deps, stand_in: OfflinePayments) -> Response:
    """GET /offline/portal/<id>: says it is the offline portal, with a link back (HTML); 404 "Not found"."""
    session = stand_in.portal_session(_last_segment(request))
    if session is None:
        raise HTTPError(404, NOT_FOUND)
    body = (
        "<p>This is the <strong>offline</strong> billing portal: there is nothing to manage.</p>"
        f"<p>Customer: {escape(str(session.get('customer')))}</p>"
        f'<p><a href="{_attr(str(session.get("return_url") or ""))}">Return</a></p>'
    )
    return _page("Offline billing portal", body)


def _deliver(event: dict[str, Any], now: int, request: Request, deps: Deps, deliver: Deliver) -> None:
    """Sign the event as Stripe does and hand it to the webhook route, signature check included."""
    secret = deps.settings.stripe_webhook_secret
    if not secret:
        raise HTTPError(500, NOT_CONFIGURED)
    payload = json.dumps(event, separators=(",", ":")).encode()
    headers = (
        ("content-type", "application/json"),
        ("stripe-signature", signature_header(payload, secret, now)),
    )
    answer = deliver(Request("POST", PATH, headers, payload, request_id=request.request_id))
    if answer.status != 200:
        error = answer.body.get("error") if isinstance(answer.body, dict) else None
        log.warning("offline checkout: the webhook answered %s event=%s", answer.status, event["id"])
        raise HTTPError(502, f"The webhook answered {answer.status}: {error}")


def _checkout(request: Request, stand_in: OfflinePayments) -> tuple[str, dict[str, Any]]:
    session_id = _last_segment(request)
    session = stand_in.checkout_session(session_id)
    if session is None:
        raise HTTPError(404, NOT_FOUND)
    return session_id, session


def _last_segment(request: Request) -> str:
    return request.path.rsplit("/", 1)[-1]


def _success_url(session: dict[str, Any], session_id: str) -> str:
    return str(session.get("success_url") or "").replace("{CHECKOUT_SESSION_ID}", session_id)


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _page(title: str, body: str) -> Response:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(200, html.encode("utf-8"), HTML)
