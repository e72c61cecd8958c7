"""HS256 access tokens that pyjwt would accept, recognised without pyjwt: the common case, made cheap.

pyjwt 2.15 checks every base64 character of a token in a Python loop (its fix for GHSA-hxm8-2xgr-2p9m):
about 50 us of a signed-in request's 75. `accepted_claims` answers only "pyjwt would accept this token,
and these are its claims", for the plain shape Supabase issues: three canonical base64url segments, a
header of `alg` HS256 (with `typ` and `kid` at most), a correct HMAC-SHA256 signature and claims that pass
each check `jwt.decode` makes with the arguments the session reader gives it. Anything else (a bad
signature, an expired token, an unusual header or claim, an unusual secret) answers None, and the caller
asks pyjwt, so every refusal and every unusual token keeps pyjwt's own verdict and message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from typing import Any

from . import json_depth

_SHAPE = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_HEADER_NAMES = frozenset({"alg", "typ", "kid"})
# pyjwt refuses a PEM, SSH or DER key, or a JWK's JSON, as an HMAC secret, and warns under 32 bytes: such
# secrets take pyjwt's path. Printable ASCII with none of these marks is none of them.
_PLAIN_SECRET = re.compile(r"[!-~]{32,}")
_KEY_MARKS = ("----", "ssh-", "ecdsa-sha2-")


def plain_secret(secret: Any) -> bool:
    """Whether pyjwt takes `secret` as an HMAC key as it is, with no refusal and no warning."""
    return (
        isinstance(secret, str)
        and _PLAIN_SECRET.fullmatch(secret) is not None
        and secret[0] not in "{[0"
        and not any(mark in secret for mark in _KEY_MARKS)
    )


def accepted_claims(
    token: str, secret: str, audience: str, issuer: str | None, now: float
) -> dict[str, Any] | None:
    """The claims of `token` when pyjwt would accept it as it is; None when pyjwt must decide.

    `secret` must satisfy `plain_secret`. The checks are those of `jwt.decode(token, secret,
    algorithms=["HS256"], audience=audience, issuer=issuer, options={"require": ["exp", "sub", "aud"]})`
    at time `now` (pyjwt checks `iss` only when `issuer` is given).
    """
    shape = _SHAPE.fullmatch(token)
    if shape is None:
        return None
    head, body, signature = shape.groups()
    signing_input = f"{head}.{body}".encode("ascii")
    expected = hmac.new(secret.encode("ascii"), signing_input, hashlib.sha256).digest()
    # The canonical encoding of the right signature, compared whole: no other spelling of it passes.
    if not hmac.compare_digest(_encode(expected), signature):
        return None
    header = _decoded_object(head)
    if header is None or not _HEADER_NAMES.issuperset(header) or header.get("alg") != "HS256":
        return None
    if not isinstance(header.get("kid", ""), str):
        return None
    claims = _decoded_object(body)
    if claims is None or not _claims_pass(claims, audience, issuer, now):
        return None
    return claims


def _claims_pass(claims: dict[str, Any], audience: str, issuer: str | None, now: float) -> bool:
    if any(claims.get(name) is None for name in ("exp", "sub", "aud")):
        return False
    exp, iat, nbf = _time(claims["exp"]), _time(claims.get("iat", now)), _time(claims.get("nbf", now))
    if exp is None or exp <= now or iat is None or iat > now or nbf is None or nbf > now:
        return False
    if issuer is not None and claims.get("iss") != issuer:
        return False
    aud = claims["aud"]
    names = [aud] if isinstance(aud, str) else aud
    if not isinstance(names, list) or audience not in names or not all(isinstance(n, str) for n in names):
        return False
    return isinstance(claims["sub"], str) and isinstance(claims.get("jti", ""), str)


def _time(value: Any) -> int | None:
    """A NumericDate as pyjwt reads it (`int(value)`), for plain numbers only."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def _decoded_object(segment: str) -> dict[str, Any] | None:
    """The JSON object a canonical base64url segment holds, or None."""
    try:
        raw = base64.urlsafe_b64decode(segment + "==")  # padding past what it needs is ignored
    except binascii.Error:
        return None
    if _encode(raw) != segment:  # pyjwt refuses other spellings of the same bytes
        return None
    try:
        found = json_depth.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
