"""The signed-in Supabase user, from `Authorization: Bearer` or the `@supabase/ssr` session cookie."""

from __future__ import annotations

import base64
import functools
import itertools
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import hs256, json_depth
from .http import Request
from .ports import InvalidToken, SigningKeys, User, VerificationKey

AUDIENCE = "authenticated"
VERIFIED_TOKENS_KEPT = 4096
# What @supabase/ssr names a session cookie when no name is configured; chunks add ".0", ".1", ...
_ANY_AUTH_COOKIE = re.compile(r"sb-[^.]+-auth-token")
_CHUNK = re.compile(r"\.\d+$")


class NotSignedIn(Exception):
    """No credentials, or credentials that do not prove a signed-in user."""


class HS256Keys:
    """The legacy Supabase signing scheme: one shared project JWT secret."""

    def __init__(self, secret: str) -> None:
        self._key = VerificationKey(secret, "HS256")

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The project secret, for HS256 tokens only."""
        if header.get("alg") != "HS256":
            raise InvalidToken(f"unexpected algorithm {header.get('alg')!r}")
        return self._key


class NoKeys:
    """Stands in when no signing key is configured: no token verifies."""

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """Always InvalidToken."""
        raise InvalidToken("no signing key is configured")


class SessionReader:
    """Finds the access token in a request and verifies it into a User."""

    def __init__(
        self,
        keys: SigningKeys,
        issuer: str | None,
        cookie_name: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._cookie_name = cookie_name
        self._clock = clock
        # A browser sends the same access token with every request until it refreshes it (an hour by
        # default), and pyjwt spends about 70 us checking one: tokens already verified are remembered
        # until their own `exp`, so expiry means exactly what it did.
        self._verified: dict[str, tuple[User, float]] = {}

    def user(self, request: Request) -> User:
        """The verified user; NotSignedIn when there is none. KeysUnavailable passes through."""
        token = self.access_token(request)
        if token is None:
            raise NotSignedIn("no credentials")
        return self.verify(token)

    def optional_user(self, request: Request) -> User | None:
        """The verified user, or None when not signed in. KeysUnavailable passes through."""
        try:
            return self.user(request)
        except NotSignedIn:
            return None

    def access_token(self, request: Request) -> str | None:
        """The bearer token when an Authorization header is sent, else the session cookie's."""
        authorization = request.header("authorization")
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
        session = session_from_cookies(request.cookies(), self._cookie_name)
        found = session.get("access_token") if session else None
        return found if isinstance(found, str) and found else None

    def verify(self, token: str) -> User:
        """Verify signature, algorithm, audience, issuer, expiry, subject and role."""
        known = self._verified.get(token)
        if known is not None and self._clock() < known[1]:
            return known[0]
        user, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()
        self._verified[token] = (user, expires)
        return user

    def _verify(self, token: str) -> tuple[User, float]:
        try:
            header = _unverified_header(token)
            key = self._keys.key_for(header)
            claims = self._claims(token, key)
        except InvalidToken as exc:
            raise NotSignedIn(str(exc)) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or claims.get("role") != AUDIENCE:
            raise NotSignedIn("not a signed-in user's token")
        email = claims.get("email")
        user = User(subject, email if isinstance(email, str) and email else None, access_token=token)
        return user, float(claims["exp"])

    def _claims(self, token: str, key: VerificationKey) -> dict[str, Any]:
        """The token's claims as `jwt.decode` checks them; NotSignedIn for any token it refuses."""
        if key.algorithm == "HS256" and isinstance(key.key, str) and _plain_secret(key.key):
            found = hs256.accepted_claims(token, key.key, AUDIENCE, self._issuer, time.time())
            if found is not None:
                return found
        # Imported on the first token pyjwt must judge: it loads cryptography, 50 ms of start-up.
        import jwt

        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "aud"]},  # `iss` is checked when an issuer is given
            )
        except jwt.InvalidTokenError as exc:
            raise NotSignedIn(str(exc)) from exc
        return claims


@functools.lru_cache(maxsize=8)
def _plain_secret(secret: str) -> bool:
    return hs256.plain_secret(secret)


def _unverified_header(token: str) -> dict[str, Any]:
    """The token's header, only to choose a key: jwt.decode checks everything again.

    Not jwt.get_unverified_header: it decodes and checks all three segments, which jwt.decode then does
    once more; that was a fifth of the CPU of a signed-in request (cProfile).
    """
    try:
        header = json_depth.loads(_b64decode(token.split(".", 1)[0]))
    except json_depth.TooDeep as exc:
        # Not for pyjwt either: it would parse the header again, recursing all the way down.
        raise InvalidToken("token header nested too deep") from exc
    except ValueError:  # binascii.Error included
        header = None
    if isinstance(header, dict):
        return header
    import jwt

    try:  # a malformed token takes pyjwt's own path, for its exact error
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise NotSignedIn(str(exc)) from exc


def session_from_cookies(cookies: Mapping[str, str], name: str | None) -> dict[str, Any] | None:
    """The session JSON `@supabase/ssr` stored under `name` (whole or in `.0`, `.1`, ... chunks)."""
    names = [name] if name else sorted({base for key in cookies if (base := _base_name(key))})
    for base in names:
        value = cookies.get(base) or _joined_chunks(cookies, base)
        session = _decode(value) if value else None
        if session is not None:
            return session
    return None


def is_session_cookie(cookie: str, name: str | None) -> bool:
    """Whether `cookie` holds (a chunk of) the session cookie `name`, or of any `sb-*-auth-token`."""
    if name is not None:
        return cookie == name or _CHUNK.sub("", cookie) == name
    return _base_name(cookie) is not None


def _base_name(cookie: str) -> str | None:
    base = _CHUNK.sub("", cookie)
    return base if _ANY_AUTH_COOKIE.fullmatch(base) else None


def _joined_chunks(cookies: Mapping[str, str], name: str) -> str:
    count = next(index for index in itertools.count() if f"{name}.{index}" not in cookies)
    return "".join(cookies[f"{name}.{index}"] for index in range(count))


def _decode(value: str) -> dict[str, Any] | None:
    try:
        if value.startswith("base64-"):
            value = _b64decode(value.removeprefix("base64-")).decode("utf-8")
        session = json_depth.loads(value)
    except ValueError:  # binascii.Error, UnicodeError, json_depth.TooDeep: no session either
        return None
    return session if isinstance(session, dict) else None


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
