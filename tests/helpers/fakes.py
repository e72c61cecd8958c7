"""In-memory fakes for the ports, and helpers to mint Supabase-style tokens and cookies."""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import jwt

from handlers.app import Overrides, build_router
from handlers.contract import Contract
from handlers.deps import Deps
from handlers.offline.payments import OfflinePayments
from handlers.ports import (
    Outcome,
    Payments,
    PaymentsError,
    Profile,
    Profiles,
    ProfileUpdate,
    SigningKeys,
    StoreError,
    UnknownCustomer,
)
from handlers.router import Router
from handlers.session import HS256Keys
from handlers.settings import Settings

SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"
SUPABASE_URL = "https://abcd.supabase.co"
ISSUER = f"{SUPABASE_URL}/auth/v1"
COOKIE = "sb-abcd-auth-token"
USER_ID = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"


def make_token(
    secret: str = SECRET, algorithm: str = "HS256", headers: Mapping[str, Any] | None = None, **overrides: Any
) -> str:
    """A Supabase access token for USER_ID; `overrides` replace claims (None removes one); `headers` add."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "authenticated",
        "sub": USER_ID,
        "role": "authenticated",
        "email": "ada@example.com",
        "iat": now,
        "exp": now + 3600,
        "session_id": "5b1c5a8e-0000-4000-8000-000000000001",
        "is_anonymous": False,
        "aal": "aal1",
    }
    claims.update(overrides)
    claims = {key: value for key, value in claims.items() if value is not None}
    return jwt.encode(claims, secret, algorithm=algorithm, headers=dict(headers) if headers else None)


def session_json(token: str, **extra: Any) -> str:
    """The session JSON @supabase/ssr stores, around an access token."""
    return json.dumps(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 3600,
            "expires_at": int(time.time()) + 3600,
            "refresh_token": "r3fr3sh",
            "user": {"id": USER_ID, "email": "ada@example.com"},
            **extra,
        },
        separators=(",", ":"),
    )


def cookie_header(token: str, name: str = COOKIE, encoding: str = "base64", chunk: int | None = None) -> str:
    """A Cookie header as a browser sends it: URL-encoded, optionally split into `.0`, `.1`, ... chunks."""
    raw = session_json(token)
    if encoding == "base64":
        value = "base64-" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    else:
        value = raw
    encoded = quote(value, safe="")
    if chunk is None:
        return f"{name}={encoded}"
    parts = []
    while encoded:
        # As @supabase/ssr does: never cut a %XX escape in two.
        head = encoded[:chunk]
        escape = head.rfind("%")
        if escape > len(head) - 3 and len(encoded) > chunk:
            head = head[:escape]
        parts.append(head)
        encoded = encoded[len(head) :]
    return "; ".join(f"{name}.{index}={part}" for index, part in enumerate(parts))


class FakePayments:
    """Records every call; answers with Stripe-like URLs, or raises `fail` when set.

    Customers in `unknown_customers` are refused as Stripe refuses a deleted one.
    """

    def __init__(self, on_call: Callable[[], object] | None = None) -> None:
        self.checkouts: list[tuple[dict[str, Any], str | None]] = []
        self.portals: list[tuple[str, str]] = []
        self.prices: list[str] = []
        self.price: str | None = "price_from_line_items"
        self.fail: PaymentsError | None = None
        self.unknown_customers: set[str] = set()
        self.on_call = on_call
        self._lock = threading.Lock()

    def create_checkout_session(self, params: Mapping[str, Any], idempotency_key: str | None) -> str:
        with self._lock:
            self.checkouts.append((dict(params), idempotency_key))
        if self.on_call:
            self.on_call()
        self._check_customer(params.get("customer"))
        if self.fail:
            raise self.fail
        return "https://checkout.stripe.com/c/pay/cs_test_1"

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        with self._lock:
            self.portals.append((customer_id, return_url))
        if self.on_call:
            self.on_call()
        self._check_customer(customer_id)
        if self.fail:
            raise self.fail
        return "https://billing.stripe.com/p/session/test_1"

    def checkout_price(self, session_id: str) -> str | None:
        with self._lock:
            self.prices.append(session_id)
        if self.fail:
            raise self.fail
        return self.price

    def _check_customer(self, customer: object) -> None:
        if customer in self.unknown_customers:
            raise UnknownCustomer(f"No such customer: '{customer}'")


class FakeProfiles:
    """Profiles in a dict; `down` makes every call fail as an unreachable store would."""

    def __init__(self, *profiles: Profile) -> None:
        self.rows = {profile.id: profile for profile in profiles}
        self.down = False
        self.reads: list[str] = []
        self.forgotten: list[tuple[str, str]] = []

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
        if self.down:
            raise StoreError("store is down")
        self.reads.append(user_id)
        return self.rows.get(user_id)

    def apply(self, update: ProfileUpdate) -> Outcome:
        raise StoreError("FakeProfiles does not apply events")

    def forget_customer(self, user_id: str, customer_id: str) -> None:
        self.forgotten.append((user_id, customer_id))
        if self.down:
            raise StoreError("store is down")
        row = self.rows.get(user_id)
        if row is not None and row.customer_id == customer_id:
            self.rows[user_id] = dataclasses.replace(row, customer_id=None)

    def ping(self) -> None:
        if self.down:
            raise StoreError("store is down")


@functools.cache
def _loaded() -> Contract:
    """The schema files, read and compiled once for the whole test run."""
    return Contract.load()


def contract() -> Contract:
    """The real contract, its schema files read and compiled once for the whole test run."""
    return _loaded()


def make_router(
    payments: Payments | None = None,
    profiles: Profiles | None = None,
    settings: Settings | None = None,
    now: float = 1_800_000_000.0,
    *,
    signing_keys: SigningKeys | None = None,
    stand_in: OfflinePayments | None = None,
    clock: Callable[[], float] | None = None,
) -> Router:
    """The composition root's Router over fakes, with the test secret, issuer and cookie name.

    With `stand_in`, that is the payments, and the offline pages are routed as in offline mode.
    """
    overrides: Overrides = {
        "profiles": profiles or FakeProfiles(),
        "signing_keys": signing_keys or HS256Keys(SECRET),
        "contract": contract(),
        "clock": clock or (lambda: now),
    }
    if stand_in is not None:
        overrides["stand_in"] = stand_in
    else:
        overrides["payments"] = payments or FakePayments()
    return build_router(
        settings or Settings(supabase_url=SUPABASE_URL, supabase_jwt_secret=SECRET), **overrides
    )


def make_deps(
    payments: Payments | None = None,
    profiles: Profiles | None = None,
    settings: Settings | None = None,
    now: float = 1_800_000_000.0,
) -> Deps:
    """What the handlers are given by `make_router`."""
    return make_router(payments, profiles, settings, now).deps
