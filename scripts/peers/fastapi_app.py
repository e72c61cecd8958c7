"""The documented billing API as a FastAPI + pydantic app would have it, for scripts/bench to compare with.

Pydantic models carry the checks and messages; a RequestValidationError handler answers the first one
in the documented order as `{"error": message}`. The session is an async dependency (pyjwt is CPU work);
the profile read is blocking, so create-portal is a plain `def` that FastAPI runs in its thread pool.
FastAPI reads a JSON body before it runs dependencies, so a signed-out caller who sends malformed JSON
to create-portal gets 400, where the service answers 401; the bench never sends that.

    uvicorn --factory --app-dir scripts/peers fastapi_app:create_app
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from peer_common import (
    CHECKOUT_URL,
    INVALID,
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
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException

# pydantic's own error types, per field, to this API's messages.
MESSAGES = {
    ("priceId", "string_type"): "Price ID must be a string",
    ("priceId", "string_too_long"): "Price ID must be at most 255 characters",
    **{
        (field, kind): f"{field} must be an absolute http or https URL"
        for field in ("successUrl", "cancelUrl", "returnUrl")
        for kind in ("string_type", "string_pattern_mismatch")
    },
    **{
        (field, "string_too_long"): f"{field} must be at most 5000 characters"
        for field in ("successUrl", "cancelUrl", "returnUrl")
    },
}


def documented(message: str, allowed: tuple[str, ...] = ()) -> BeforeValidator:
    """The documented check: a missing, null, false, 0 or empty field (or one not `allowed`) is `message`."""

    def check(value: Any) -> Any:
        if missing(value) or (allowed and value not in allowed):
            raise PydanticCustomError("documented", message)
        return value

    return BeforeValidator(check)


Url = Annotated[str, Field(max_length=5000, pattern=URL_PATTERN)]
Absent: Any = Field(default=None, validate_default=True)


class CheckoutBody(BaseModel):
    """POST /api/stripe/create-checkout: the documented checks first, then types and URL formats."""

    model_config = ConfigDict(strict=True, regex_engine="python-re")

    priceId: Annotated[str, Field(max_length=255), documented(PRICE_REQUIRED)] = Absent
    successUrl: Annotated[Url, documented(URLS_REQUIRED)] = Absent
    cancelUrl: Annotated[Url, documented(URLS_REQUIRED)] = Absent
    mode: Annotated[
        Literal["payment", "subscription"], documented(MODE_REQUIRED, ("payment", "subscription"))
    ] = Absent


class PortalBody(BaseModel):
    """POST /api/stripe/create-portal."""

    model_config = ConfigDict(strict=True, regex_engine="python-re")

    returnUrl: Annotated[Url, documented(RETURN_REQUIRED)] = Absent


def first_message(errors: list[Any]) -> str:
    """The message of the error the documentation lists first: documented checks, then the rest."""
    ranked = sorted(enumerate(errors), key=lambda item: (item[1]["type"] != "documented", item[0]))
    error = ranked[0][1]
    where = tuple(error["loc"])
    if error["type"] == "documented":
        return str(error["msg"])
    if error["type"] == "json_invalid" or (where == ("body",) and error["type"] == "missing"):
        return NOT_JSON
    if where == ("body",):
        return NOT_OBJECT
    return MESSAGES.get((str(where[-1]), error["type"]), INVALID)


async def signed_in_user(request: Request) -> str:
    """The verified user id of the request's session; 401 when there is none."""
    settings: Settings = request.app.state.settings
    token = access_token(request.headers.get("authorization"), request.cookies.get(settings.cookie))
    user = verified_user(settings, token)
    if user is None:
        raise HTTPException(401, NOT_SIGNED_IN)
    return user


User = Annotated[str, Depends(signed_in_user)]


def create_app() -> FastAPI:
    """The app over the settings and store in the environment (as the service reads them)."""
    settings = Settings.from_env()
    profiles = Profiles(settings.database)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"error": first_message(list(exc.errors()))}, status_code=400)

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, refused)

    @app.post("/api/stripe/create-checkout")
    async def create_checkout(body: CheckoutBody) -> dict[str, str]:
        return {"url": CHECKOUT_URL}

    @app.post("/api/stripe/create-portal")
    def create_portal(user: User, body: PortalBody) -> dict[str, str]:
        if profiles.customer_id(user) is None:
            raise HTTPException(400, NO_BILLING_ACCOUNT)
        return {"url": PORTAL_URL}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "profiles": "ok"}

    return app
