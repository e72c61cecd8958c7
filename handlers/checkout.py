"""POST /api/stripe/create-checkout."""

from __future__ import annotations

import hashlib
from typing import Any

from .contract import CHECKOUT_REQUEST
from .deps import Deps
from .http import Request, Response
from .ports import UnknownCustomer, User
from .redirects import check_origins
from .stale_customer import forget_stale_customer

# A double click arrives well within this many seconds; a deliberate retry later gets a new session.
IDEMPOTENCY_WINDOW_SECONDS = 10


def create_checkout(request: Request, deps: Deps, body: dict[str, Any]) -> Response:
    """Create a Stripe Checkout Session and answer `{"url": ...}`; `body` is what `read_checkout` returned.

    Schema: schemas/create-checkout.request.json -> create-checkout.response.json | error.json
    - 400 "Price ID is required" (priceId missing or empty; checked first)
    - 400 "Success and cancel URLs are required" (successUrl or cancelUrl missing or empty)
    - 400 "Mode is required (either 'payment' for one-time payments or 'subscription' for
      recurring subscription)" (mode missing, empty, or neither value)
    - 400 our own message for a body that is not a JSON object, wrong types, URLs that are not
      absolute http(s) URLs, or URLs off ALLOWED_REDIRECT_ORIGINS
    - 500 Stripe's message for an invalid request, a generic one for any other Stripe failure
    - 200 {"url": "<Stripe Checkout URL>"}
    Sign-in is optional: a signed-in user's checkout carries their id and Stripe customer. A customer
    Stripe no longer knows is forgotten, and the checkout made again as for a user without one.
    The 400s come from `read_checkout`, which the router runs first; the 500s from the ports' errors.
    """
    user = deps.sessions.optional_user(request)
    profile = deps.profiles.get(user.id, access_token=user.access_token) if user else None
    customer_id = profile.customer_id if profile else None
    params = checkout_params(body, user, customer_id)
    now = deps.clock()
    try:
        url = deps.payments.create_checkout_session(params, idempotency_key(request, params, now))
    except UnknownCustomer:
        if user is None or customer_id is None:
            raise
        forget_stale_customer(deps, request, user.id, customer_id)
        # Other params, so another key (Stripe refuses a key reused with other params): the one a
        # repeated click gets now that the profile has no customer.
        params = checkout_params(body, user, None)
        url = deps.payments.create_checkout_session(params, idempotency_key(request, params, now))
    return Response(200, {"url": url})


def read_checkout(request: Request, deps: Deps) -> dict[str, Any]:
    """The valid request body, or HTTPError 400; pure CPU, so it may run before any I/O is scheduled."""
    body = deps.contract.read(request, CHECKOUT_REQUEST)
    check_origins(
        [("successUrl", body["successUrl"]), ("cancelUrl", body["cancelUrl"])],
        deps.settings.allowed_redirect_origins,
    )
    return body


def checkout_params(body: dict[str, Any], user: User | None, customer_id: str | None) -> dict[str, Any]:
    """The exact parameters Stripe's `POST /v1/checkout/sessions` is sent."""
    params: dict[str, Any] = {
        "mode": body["mode"],
        "line_items": [{"price": body["priceId"], "quantity": 1}],
        "success_url": body["successUrl"],
        "cancel_url": body["cancelUrl"],
        "allow_promotion_codes": True,
    }
    if user is not None:
        params["client_reference_id"] = user.id
    if customer_id is not None:
        params["customer"] = customer_id
        return params
    if user is not None and user.email:
        params["customer_email"] = user.email
    if body["mode"] == "payment":
        # Without it a one-time payment leaves no Customer, and the portal has nothing to open.
        params["customer_creation"] = "always"
    return params


def idempotency_key(request: Request, params: dict[str, Any], now: float) -> str:
    """The same key for a repeated click: from the client's Idempotency-Key, else a short window scoped to
    the user or, signed out, to what tells browsers apart (address, forwarded-for, User-Agent, language),
    so visitors behind one proxy rarely meet. A hash: no personal data reaches Stripe in it."""
    client_key = request.header("idempotency-key")
    scope = f"client:{client_key}" if client_key else f"window:{int(now) // IDEMPOTENCY_WINDOW_SECONDS}"
    who = str(params.get("client_reference_id") or _browser(request))
    what = "|".join(str(params[name]) for name in sorted(params))
    digest = hashlib.sha256(f"{scope}\n{who}\n{what}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"checkout-{digest}"


def _browser(request: Request) -> str:
    names = ("x-forwarded-for", "user-agent", "accept-language")
    return "|".join([request.client, *(request.header(name) or "" for name in names)])
