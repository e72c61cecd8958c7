"""The headers for each kind of credential a case names, or the option that would provide it."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import Any

import jwt

from contract_tests.deployment import Target, mint


class Missing(Exception):
    """The run was not given what this credential needs; the message names the option."""


def headers_for(kind: str | None, target: Target) -> dict[str, str]:
    """Request headers that present credential `kind` to `target`."""
    if kind is None:
        return {}
    if kind in _FIXED:
        return {"Authorization": _FIXED[kind]}
    if kind == "user":
        return _bearer(_no_billing_token(target))
    if kind == "user-cookie":
        return _cookie(target, _no_billing_token(target))
    if kind == "billing-user":
        if not target.access_token:
            raise Missing("needs --access-token (a signed-in user who has a billing account)")
        return _bearer(target.access_token)
    if kind == "forged":
        return _bearer(_signed(secrets.token_urlsafe(32), target.issuer))
    if kind == "alg-none":
        return _bearer(jwt.encode(_claims(target.issuer), "", algorithm="none"))
    if kind == "cookie-garbage":
        return _cookie(target, None)
    if kind == "cookie-forged":
        return _cookie(target, _signed(secrets.token_urlsafe(32), target.issuer))
    if kind == "wrong-issuer":
        if not target.supabase_url:
            raise Missing("needs --supabase-url (the deployment must check the issuer) and --jwt-secret")
        return _bearer(_signed(_secret(target), "https://another-project.supabase.co/auth/v1"))
    if kind in _ONE_CLAIM_WRONG:
        return _bearer(_signed(_secret(target), target.issuer, **_ONE_CLAIM_WRONG[kind]))
    if kind == "cookie-expired":
        return _cookie(target, _signed(_secret(target), target.issuer, **_ONE_CLAIM_WRONG["expired"]))
    raise ValueError(f"unknown credential {kind!r} in cases.json")


_FIXED = {
    "bearer-garbage": "Bearer not-a-jwt",
    "bearer-empty": "Bearer ",
    "basic-scheme": "Basic " + base64.b64encode(b"contract:password").decode(),
}
_ONE_CLAIM_WRONG: dict[str, dict[str, Any]] = {
    "expired": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "wrong-audience": {"aud": "anon"},
    "no-subject": {"sub": None},
    "anon-role": {"role": "anon"},
}


def _claims(issuer: str | None, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "email": f"contract-{uuid.uuid4().hex[:8]}@example.com",
        "iat": now,
        "exp": now + 600,
        "iss": issuer,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed(secret: str, issuer: str | None, **changes: Any) -> str:
    return jwt.encode(_claims(issuer, **changes), secret, algorithm="HS256")


def _secret(target: Target) -> str:
    if not target.jwt_secret:
        raise Missing("needs --jwt-secret (mints a correctly signed token with one claim wrong)")
    return target.jwt_secret


def _no_billing_token(target: Target) -> str:
    if target.no_billing_access_token:
        return target.no_billing_access_token
    if target.jwt_secret:
        email = f"contract-{target.run_id}-{uuid.uuid4().hex[:6]}@example.com"
        return mint(target.jwt_secret, target.issuer, str(uuid.uuid4()), email)
    raise Missing(
        "needs --no-billing-access-token or --jwt-secret (a signed-in user without a billing account)"
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _cookie(target: Target, token: str | None) -> dict[str, str]:
    """The @supabase/ssr cookie around `token`: base64- and base64url JSON; None: one that won't decode."""
    if not target.cookie_name:
        raise Missing("needs --supabase-url (names the session cookie sb-<ref>-auth-token)")
    if token is None:
        return {"Cookie": f"{target.cookie_name}=base64-!!!"}
    session = {"access_token": token, "token_type": "bearer", "expires_in": 600, "refresh_token": "r"}
    encoded = base64.urlsafe_b64encode(json.dumps(session).encode()).decode().rstrip("=")
    return {"Cookie": f"{target.cookie_name}=base64-{encoded}"}
