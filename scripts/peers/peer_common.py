"""What both peer apps share: the documented messages, the Supabase session check and the profile read.

The peers are what a team would write with FastAPI or Litestar for the same documented API, for
scripts/bench to measure the service against: the framework does the routing, parsing, validation and
error rendering its own way; signing in is pyjwt with the same secret, audience and issuer; the profile is
one plain sqlite3 query on the same store. They stop where the service would call Stripe.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt

PRICE_REQUIRED = "Price ID is required"
URLS_REQUIRED = "Success and cancel URLs are required"
MODE_REQUIRED = (
    "Mode is required (either 'payment' for one-time payments or 'subscription' for recurring subscription)"
)
RETURN_REQUIRED = "Return URL is required"
NOT_SIGNED_IN = "You must be logged in to view billing information."
NO_BILLING_ACCOUNT = "You don't have a billing account yet. Make a purchase first."
NOT_JSON = "Request body must be valid JSON"
NOT_OBJECT = "Request body must be a JSON object"
INVALID = "Request body is invalid"
# The service's own URL rule (schemas/*.request.json): absolute http(s), a host, no whitespace.
URL_PATTERN = (
    r"^(?!.*\s)https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?(?:[/?#]\S*)?$"
)
# Where the service would answer Stripe's session URL; the peers make no payment.
CHECKOUT_URL = "https://checkout.stripe.com/c/pay/peer"
PORTAL_URL = "https://billing.stripe.com/p/session/peer"


def missing(value: Any) -> bool:
    """The original's `!field`: null, false, 0 and "" count as missing; true and 1 do not."""
    return value is None or value is False or value == "" or value == 0


@dataclass(frozen=True)
class Settings:
    """The service's own variables, read the same way: DATABASE_URL, SUPABASE_URL, SUPABASE_JWT_SECRET."""

    database: str
    secret: str
    issuer: str
    cookie: str

    @classmethod
    def from_env(cls) -> Settings:
        """Read the environment; a missing variable stops start-up."""
        url = os.environ["SUPABASE_URL"]
        host = urlsplit(url).hostname or ""
        return cls(
            database=os.environ["DATABASE_URL"].removeprefix("sqlite:///"),
            secret=os.environ["SUPABASE_JWT_SECRET"],
            issuer=f"{url}/auth/v1",
            cookie=f"sb-{host.split('.')[0]}-auth-token",
        )


def access_token(authorization: str | None, cookie: str | None) -> str | None:
    """The Bearer token, else the access token in the @supabase/ssr session cookie's value (not chunked)."""
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    if not cookie:
        return None
    value = unquote(cookie)
    if value.startswith("base64-"):
        encoded = value.removeprefix("base64-")
        try:
            value = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
    try:
        session = json.loads(value)
    except ValueError:
        return None
    found = session.get("access_token") if isinstance(session, dict) else None
    return found if isinstance(found, str) and found else None


def verified_user(settings: Settings, token: str | None) -> str | None:
    """The user id of a valid access token (HS256, audience, issuer, exp, sub, role), else None."""
    if token is None:
        return None
    try:
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=["HS256"],
            audience="authenticated",
            issuer=settings.issuer,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.InvalidTokenError:
        return None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or claims.get("role") != "authenticated":
        return None
    return subject


class Profiles:
    """The profiles table, read with one sqlite3 connection per thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()

    def customer_id(self, user_id: str) -> str | None:
        """The Stripe customer of the user's profile, or None."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self._path, timeout=5.0)
        row = db.execute("SELECT customer_id FROM profiles WHERE id = ?", (user_id,)).fetchone()
        return row[0] if row is not None and row[0] else None
