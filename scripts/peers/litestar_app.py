"""The documented billing API as a Litestar + msgspec app would have it, for scripts/bench to compare with.

msgspec Structs carry the checks: the documented ones need JSON's falsy values treated as missing and an
order across fields, which typed fields cannot say, so each Struct checks itself in `__post_init__` (the
message reaches the handler of Litestar's ValidationException, which answers `{"error": message}`). The
session is an async dependency; the profile read blocks, so create-portal runs in Litestar's thread pool.

    uvicorn --factory --app-dir scripts/peers litestar_app:create_app
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.di import Provide
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    SerializationException,
    ValidationException,
)
from litestar.params import Dependency
from peer_common import (
    CHECKOUT_URL,
    MODE_REQUIRED,
    NO_BILLING_ACCOUNT,
    NOT_JSON,
    NOT_OBJECT,
    NOT_SIGNED_IN,
    PORTAL_URL,
    PRICE_REQUIRED,
    RETURN_REQUIRED,
    URL_PATTERN,
    URLS_REQUIRED,
    Profiles,
    Settings,
    access_token,
    missing,
    verified_user,
)

URL = re.compile(URL_PATTERN)
MODES = ("payment", "subscription")
OURS = (
    {PRICE_REQUIRED, URLS_REQUIRED, MODE_REQUIRED, RETURN_REQUIRED, "Price ID must be a string"}
    | {
        f"{field} must be {rule}"
        for field in ("successUrl", "cancelUrl", "returnUrl")
        for rule in ("an absolute http or https URL", "at most 5000 characters")
    }
    | {"Price ID must be at most 255 characters"}
)


def check_url(name: str, value: Any) -> None:
    """This service's own URL rule for one field, after the documented checks."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an absolute http or https URL")
    if len(value) > 5000:
        raise ValueError(f"{name} must be at most 5000 characters")
    if not URL.search(value):
        raise ValueError(f"{name} must be an absolute http or https URL")


class CheckoutBody(msgspec.Struct):
    """POST /api/stripe/create-checkout: the documented checks first, then types and URL formats."""

    priceId: Any = None
    successUrl: Any = None
    cancelUrl: Any = None
    mode: Any = None

    def __post_init__(self) -> None:
        if missing(self.priceId):
            raise ValueError(PRICE_REQUIRED)
        if missing(self.successUrl) or missing(self.cancelUrl):
            raise ValueError(URLS_REQUIRED)
        if missing(self.mode) or self.mode not in MODES:
            raise ValueError(MODE_REQUIRED)
        if not isinstance(self.priceId, str):
            raise ValueError("Price ID must be a string")
        if len(self.priceId) > 255:
            raise ValueError("Price ID must be at most 255 characters")
        check_url("successUrl", self.successUrl)
        check_url("cancelUrl", self.cancelUrl)


class PortalBody(msgspec.Struct):
    """POST /api/stripe/create-portal."""

    returnUrl: Any = None

    def __post_init__(self) -> None:
        if missing(self.returnUrl):
            raise ValueError(RETURN_REQUIRED)
        check_url("returnUrl", self.returnUrl)


def invalid(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, str]]:
    """The first message msgspec reported: ours from `__post_init__`, else this API's words for msgspec's."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    message = str(extra[0].get("message", "")) if extra and isinstance(extra[0], dict) else ""
    if message not in OURS:
        message = NOT_OBJECT if message.startswith("Expected `object`") else NOT_JSON
    return Response({"error": message}, status_code=400)


def refused(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, str]]:
    """Any other refusal, as `{"error": detail}`; a body msgspec could not decode is not JSON."""
    message = NOT_JSON if isinstance(exc.__cause__, SerializationException) else exc.detail
    return Response({"error": message}, status_code=exc.status_code)


def create_app() -> Litestar:
    """The app over the settings and store in the environment (as the service reads them)."""
    settings = Settings.from_env()
    profiles = Profiles(settings.database)

    async def signed_in_user(request: Request[Any, Any, Any]) -> str:
        token = access_token(request.headers.get("authorization"), request.cookies.get(settings.cookie))
        user = verified_user(settings, token)
        if user is None:
            raise NotAuthorizedException(NOT_SIGNED_IN)
        return user

    @post("/api/stripe/create-checkout", status_code=200)
    async def create_checkout(data: CheckoutBody) -> dict[str, str]:
        return {"url": CHECKOUT_URL}

    @post("/api/stripe/create-portal", status_code=200, sync_to_thread=True)
    def create_portal(
        user: Annotated[str, Dependency(skip_validation=True)], data: PortalBody
    ) -> dict[str, str]:
        if profiles.customer_id(user) is None:
            raise HTTPException(NO_BILLING_ACCOUNT, status_code=400)
        return {"url": PORTAL_URL}

    @get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "profiles": "ok"}

    return Litestar(
        [create_checkout, create_portal, healthz],
        dependencies={"user": Provide(signed_in_user)},
        exception_handlers={ValidationException: invalid, HTTPException: refused},
        openapi_config=None,
    )
