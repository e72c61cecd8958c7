"""The offline stand-in's pages: a checkout that pays and notifies the webhook, and a portal; `routes()`
is what the composition root adds when it runs the stand-in."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import parse_qs

from ..contract import ERROR
from ..deps import Deps
from ..http import HTTPError, Request, Response
from ..router import Route, route
from ..webhook import NOT_CONFIGURED, PATH, signature_header
from .payments import CHECKOUT_PAGES, PORTAL_PAGES, OfflinePayments, completed_event

log = logging.getLogger("handlers.offline")

HTML = (("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store"))
CHECKOUT_BANNER = "Offline test checkout: no real payment is made"
PORTAL_BANNER = "Offline test billing portal: there is nothing to manage"
EMAIL_REQUIRED = "Enter your email address to pay."
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]{1,63}(?:\.[^@\s.]{1,63})+")
# Inline, so the page needs nothing else; a narrow screen gets the card edge to edge.
STYLE = (
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "background:#f6f8fa;color:#1a1f36}"
    ".banner{margin:0;padding:.6rem 1rem;background:#fff4e5;color:#8a4b00;"
    "border-bottom:1px solid #f5c27a;text-align:center;font-weight:600}"
    "main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:12px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    "h1{font-size:1.35rem;margin:0 0 1rem}"
    "dl{display:grid;grid-template-columns:auto 1fr;gap:.35rem 1rem;margin:0 0 1.25rem}"
    "dt{color:#697386}dd{margin:0;overflow-wrap:anywhere}"
    "label{display:block;font-weight:600;margin-bottom:.35rem}"
    "input{width:100%;padding:.65rem .75rem;font:inherit;border:1px solid #c1c9d2;border-radius:8px}"
    "input[readonly]{background:#f6f8fa;color:#3c4257}"
    "button{width:100%;margin-top:1rem;padding:.75rem;font:inherit;font-weight:600;color:#fff;"
    "background:#635bff;border:0;border-radius:8px;cursor:pointer}"
    "button:hover{background:#4b45c6}"
    ".error{color:#c0123c;margin:.5rem 0 0}.muted{color:#697386;font-size:.9rem}a{color:#635bff}"
    "@media (max-width:480px){main{margin:0;border-radius:0;box-shadow:none}}"
)
# How a page hands the signed event to the webhook route: the router's own dispatch.
Deliver = Callable[[Request], Response]


def routes(stand_in: OfflinePayments, deliver: Deliver) -> dict[str, dict[str, Route]]:
    """The pages' routes by path prefix (one id segment follows), for the composition root to add."""
    return {
        CHECKOUT_PAGES: {
            "GET": route(lambda request, deps: checkout_page(request, deps, stand_in), ERROR),
            "POST": route(lambda request, deps: pay(request, deps, stand_in, deliver), ERROR),
        },
        PORTAL_PAGES: {"GET": route(lambda request, deps: portal_page(request, stand_in), ERROR)},
    }


def checkout_page(request: Request, deps: Deps, stand_in: OfflinePayments) -> Response:
    """GET /offline/checkout/<id>: the session, an email field and Pay (HTML); a 404 page for an unknown
    id, a 410 page once the session has expired (24 hours after it was made)."""
    found = _checkout(request, deps, stand_in)
    if isinstance(found, Response):
        return found
    session_id, session = found
    if session.get("status") == "complete":
        link = escape(_success_url(session, session_id))
        body = f'<p>This checkout is paid.</p><p><a href="{link}">Continue</a></p>'
        return _page("Offline checkout", CHECKOUT_BANNER, f"<h1>Offline checkout</h1>{body}")
    return _checkout_form(session)


def pay(request: Request, deps: Deps, stand_in: OfflinePayments, deliver: Deliver) -> Response:
    """POST /offline/checkout/<id>: pay, deliver a signed `checkout.session.completed` to the webhook, 303.

    - 303 to the session's success_url ({CHECKOUT_SESSION_ID} filled in) once the webhook answered 200
    - 400 page with the form again when a signed-out checkout gets no usable `email`
    - 404 page for an unknown session; 410 page for an expired one
    - 502 "The webhook answered <status>: <error>" when the service's own webhook refused the event
    The form's `email` links a signed-out purchase to the profile with that email, as Stripe's customer
    email would; it is required then. Paying a paid session only redirects.
    """
    found = _checkout(request, deps, stand_in)
    if isinstance(found, Response):
        return found
    session_id, session = found
    if session.get("status") != "complete":
        email = parse_qs(request.body.decode(errors="replace")).get("email", [""])[0].strip()
        if _needs_email(session) and not _EMAIL.fullmatch(email):
            return _checkout_form(session, email, EMAIL_REQUIRED)
        now = int(deps.clock())
        _deliver(completed_event(session, email, now), now, request, deps, deliver)
        stand_in.sessions.complete(session_id)  # paying again sends nothing
    return Response(303, b"", (("location", _success_url(session, session_id)), *HTML))


def portal_page(request: Request, stand_in: OfflinePayments) -> Response:
    """GET /offline/portal/<id>: the offline portal, with a link back (HTML); a 404 page if unknown."""
    session = stand_in.sessions.portal(_last_segment(request))
    if session is None:
        return _not_found()
    body = (
        "<h1>Offline billing portal</h1>"
        f"<p>Customer: {escape(str(session.get('customer')))}</p>"
        f'<p><a href="{escape(str(session.get("return_url") or ""))}">Return</a></p>'
    )
    return _page("Offline billing portal", PORTAL_BANNER, body)


def _checkout_form(session: dict[str, Any], typed: str = "", error: str | None = None) -> Response:
    """The checkout as a person expects it: what is bought, the email, Pay and Cancel."""
    price = ", ".join(str(item.get("price")) for item in session.get("line_items", []))
    billing = "Subscription" if session.get("mode") == "subscription" else "One-time payment"
    known = session.get("customer_email") or ""
    email = known or typed
    needed = _needs_email(session)
    state = " readonly" if known else " required" if needed else ""
    hint = '<p class="muted">The email links this purchase to the account that has it.</p>' if needed else ""
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    cancel = escape(str(session.get("cancel_url") or ""))
    body = (
        "<h1>Offline checkout</h1>"
        f"<dl><dt>Price</dt><dd>{escape(price)}</dd><dt>Billing</dt><dd>{billing}</dd>"
        "<dt>Quantity</dt><dd>1</dd></dl>"
        '<form method="post"><label for="email">Email</label>'
        f'<input id="email" type="email" name="email" autocomplete="email" value="{escape(email)}"{state}>'
        f"{alert}{hint}"
        '<p class="muted">No card is needed: Pay sends this service\'s webhook a signed'
        " checkout.session.completed, as Stripe would.</p>"
        '<button type="submit">Pay</button></form>'
        f'<p class="muted"><a href="{cancel}">Cancel</a> and go back</p>'
    )
    return _page("Offline checkout", CHECKOUT_BANNER, body, 400 if error else 200)


def _needs_email(session: dict[str, Any]) -> bool:
    """A signed-out checkout for no known customer: nothing but the email can link the purchase to a profile
    (a session's customer_email comes with the signed-in user's client_reference_id)."""
    return not (session.get("client_reference_id") or session.get("customer"))


def _deliver(event: dict[str, Any], now: int, request: Request, deps: Deps, deliver: Deliver) -> None:
    """Sign the event as Stripe does and hand it to the webhook route, signature check included."""
    secret = deps.settings.stripe_webhook_secret
    if not secret:
        raise HTTPError(500, NOT_CONFIGURED)
    payload = json.dumps(event).encode()
    headers = (
        ("content-type", "application/json"),
        ("stripe-signature", signature_header(payload, secret, now)),
    )
    answer = deliver(Request("POST", PATH, headers, payload, request_id=request.request_id))
    if answer.status != 200:
        error = answer.body.get("error") if isinstance(answer.body, dict) else None
        log.warning("offline checkout: the webhook answered %s event=%s", answer.status, event["id"])
        raise HTTPError(502, f"The webhook answered {answer.status}: {error}")


def _checkout(
    request: Request, deps: Deps, stand_in: OfflinePayments
) -> tuple[str, dict[str, Any]] | Response:
    """The session the path names, or the page to answer instead (unknown: 404, expired: 410)."""
    session_id = _last_segment(request)
    session = stand_in.sessions.checkout(session_id)
    if session is None:
        return _not_found()
    expires_at = session.get("expires_at")
    if session.get("status") != "complete" and isinstance(expires_at, int) and deps.clock() >= expires_at:
        cancel = escape(str(session.get("cancel_url") or ""))
        body = (
            "<h1>This checkout has expired</h1>"
            "<p>Offline checkout links last 24 hours, as Stripe's do. Start again from the app.</p>"
            f'<p><a href="{cancel}">Go back</a></p>'
        )
        return _page("Checkout expired", CHECKOUT_BANNER, body, 410)
    return session_id, session


def _not_found() -> Response:
    body = (
        "<h1>This link is not valid</h1>"
        "<p>No offline checkout or billing portal session has this id: the link may be mistyped, or it was"
        " made by a service whose offline sessions have since been lost.</p>"
    )
    return _page("Link not valid", "Offline test mode: no real payment is made", body, 404)


def _last_segment(request: Request) -> str:
    return request.path.rpartition("/")[2]


def _success_url(session: dict[str, Any], session_id: str) -> str:
    return str(session.get("success_url") or "").replace("{CHECKOUT_SESSION_ID}", session_id)


def _page(title: str, banner: str, body: str, status: int = 200) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body><p class="banner" role="note">{escape(banner)}</p><main>{body}</main></body></html>'
    )
    return Response(status, html.encode(), HTML)
