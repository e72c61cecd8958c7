"""Supabase's asymmetric signing keys (ES256, RS256), from the project's JWKS endpoint, cached."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from ..ports import InvalidToken, KeysUnavailable, SigningKeys, VerificationKey
from .fetch import Fetch, requests_fetch

ASYMMETRIC = frozenset({"ES256", "RS256"})


def _fetch_json(fetch: Fetch, url: str, timeout: float) -> Any:
    """GET `url` through `fetch` and parse its JSON; KeysUnavailable on any failure."""
    try:
        status, _, content = fetch("GET", url, {"Accept": "application/json"}, None, timeout)
    except TimeoutError as exc:
        raise KeysUnavailable("signing keys timed out") from exc
    except Exception as exc:
        # Any class counts as unreachable (a runtime's own too); the type only, never the text.
        raise KeysUnavailable(f"signing keys unreachable: {type(exc).__name__}") from exc
    if status != 200:
        raise KeysUnavailable(f"signing keys answered HTTP {status}")
    try:
        return json.loads(content)
    except ValueError as exc:
        raise KeysUnavailable("signing keys are not JSON") from exc


class JWKSKeys:
    """Keys from `<SUPABASE_URL>/auth/v1/.well-known/jwks.json`.

    Kept for `max_age` seconds; an unknown `kid` refetches at most once per `min_interval` seconds.
    """

    def __init__(
        self,
        supabase_url: str,
        *,
        timeout: float = 5.0,
        max_age: float = 600.0,
        min_interval: float = 30.0,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = f"{supabase_url.rstrip('/')}/auth/v1/.well-known/jwks.json"
        self._timeout = timeout
        self._max_age = max_age
        self._min_interval = min_interval
        self._fetch = fetch if fetch is not None else requests_fetch()
        self._clock = clock
        self._keys: dict[str, VerificationKey] = {}
        # Never fetched and never tried count as long ago.
        self._fetched_at = self._tried_at = -math.inf
        self._lock = threading.Lock()

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The key named by the token's `kid`, whose algorithm must be the token's `alg`."""
        alg = header.get("alg")
        kid = header.get("kid")
        if alg not in ASYMMETRIC:
            raise InvalidToken(f"unexpected algorithm {alg!r}")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token names no key")
        key = self._find(kid)
        if key is None:
            raise InvalidToken("token names an unknown key")
        if key.algorithm != alg:
            raise InvalidToken(f"key {kid!r} is for {key.algorithm}, not {alg}")
        return key

    def _find(self, kid: str) -> VerificationKey | None:
        with self._lock:
            now = self._clock()
            expired = now - self._fetched_at >= self._max_age
            if expired or kid not in self._keys:
                if now - self._tried_at >= self._min_interval:
                    self._refresh(now)
                elif expired and not self._keys:
                    # A recent fetch failed: answer at once instead of waiting on the endpoint again.
                    raise KeysUnavailable("signing keys could not be fetched recently")
            return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        self._tried_at = now
        try:
            document = _fetch_json(self._fetch, self.url, self._timeout)
        except KeysUnavailable:
            if self._keys and now - self._fetched_at < 2 * self._max_age:
                return  # keep serving the keys we had for a while
            raise
        self._keys = parse_jwks(document)
        self._fetched_at = now


def parse_jwks(document: Any) -> dict[str, VerificationKey]:
    """The signing keys of a JWKS document by `kid`; keys of other uses or types are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeysUnavailable("signing keys document has no key list")
    keys: dict[str, VerificationKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or entry.get("kty") not in ("EC", "RSA"):
            continue
        try:
            parsed = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError):
            continue
        if parsed.algorithm_name in ASYMMETRIC:
            keys[kid] = VerificationKey(parsed.key, parsed.algorithm_name)
    return keys


class KeyChain:
    """HS256 tokens go to the project secret, ES256 and RS256 ones to the JWKS: legacy and current keys."""

    def __init__(self, hs256: SigningKeys | None, jwks: SigningKeys) -> None:
        self._hs256 = hs256
        self._jwks = jwks

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The key source for the token's `alg` decides."""
        if header.get("alg") == "HS256":
            if self._hs256 is None:
                raise InvalidToken("HS256 tokens are not accepted without SUPABASE_JWT_SECRET")
            return self._hs256.key_for(header)
        return self._jwks.key_for(header)
