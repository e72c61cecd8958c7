"""POST /api/stripe/create-portal."""

from __future__ import annotations

from .contract import PORTAL_REQUEST
from .deps import Deps
from .http import HTTPError, Request, Response
from .ports import UnknownCustomer
from .redirects import check_origins
from .session import NotSignedIn
from .stale_customer import forget_stale_customer

NOT_SIGNED_IN = "You must be logged in to view billing information."
NO_BILLING_ACCOUNT = "You don't have a billing account yet. Make a purchase first."


def create_portal(request: Request, deps: Deps) -> Response:
    """Create a Stripe Billing Portal session for the signed-in user and answer `{"url": ...}`.

    Schema: schemas/create-portal.request.json -> create-portal.response.json | error.json
    - 401 "You must be logged in to view billing information." (no, malformed, expired or
      forged credentials; checked first)
    - 400 "Return URL is required" (returnUrl missing or empty; checked before the profile lookup)
    - 400 our own message for a body that is not a JSON object or a returnUrl that is not an
      absolute http(s) URL (or is off ALLOWED_REDIRECT_ORIGINS)
    - 400 "You don't have a billing account yet. Make a purchase first." (no Stripe customer, or one
      Stripe no longer knows, which is then forgotten)
    - 500 "The billing portal is not available yet. Please contact support." (no portal configuration)
    - 500 Stripe's message for an invalid request, a generic one for any other failure
    - 200 {"url": "<Stripe Billing Portal URL>"}
    The 500s come from the ports' errors, which the router answers.
    """
    try:
        user = deps.sessions.user(request)
    except NotSignedIn:
        raise HTTPError(401, NOT_SIGNED_IN) from None
    body = deps.contract.read(request, PORTAL_REQUEST)
    check_origins([("returnUrl", body["returnUrl"])], deps.settings.allowed_redirect_origins)
    profile = deps.profiles.get(user.id, access_token=user.access_token)
    if profile is None or not profile.customer_id:
        raise HTTPError(400, NO_BILLING_ACCOUNT)
    try:
        url = deps.payments.create_portal_session(profile.customer_id, body["returnUrl"])
    except UnknownCustomer:
        forget_stale_customer(deps, request, user.id, profile.customer_id)
        raise HTTPError(400, NO_BILLING_ACCOUNT) from None
    return Response(200, {"url": url})
