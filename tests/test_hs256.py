"""handlers.hs256: HS256 tokens accepted without pyjwt only when pyjwt accepts them, with the same claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from handlers.hs256 import accepted_claims, plain_secret
from tests.helpers.fakes import ISSUER, SECRET, USER_ID

NOW = int(time.time())
GOOD: dict[str, Any] = {
    "iss": ISSUER,
    "aud": "authenticated",
    "sub": USER_ID,
    "role": "authenticated",
    "email": "ada@example.com",
    "iat": NOW - 10,
    "exp": NOW + 3600,
    "session_id": "5b1c5a8e-0000-4000-8000-000000000001",
}
HEADER = {"alg": "HS256", "typ": "JWT"}


def b64(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def token(
    claims: Any = None,
    header: Any = None,
    secret: str = SECRET,
    digest: Callable[..., Any] = hashlib.sha256,
    raw_payload: bytes | None = None,
) -> str:
    """A token signed by hand, so that every part of it can be made odd."""
    head = b64(json.dumps(HEADER if header is None else header).encode())
    body = b64(
        raw_payload if raw_payload is not None else json.dumps(GOOD if claims is None else claims).encode()
    )
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{b64(signature)}"


def claims_with(**changes: Any) -> dict[str, Any]:
    """GOOD with `changes`; a change to None removes the claim."""
    merged = {**GOOD, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def respelled(segment: str) -> str:
    """The same bytes in a non-canonical spelling: the unused low bits of the last character set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(segment[-1])
    return segment[:-1] + alphabet[last | 1] if last % 2 == 0 else segment[:-1] + alphabet[last & ~1]


def segment(which: int, text: str, replace: Callable[[str], str]) -> str:
    """`text` with segment `which` passed through `replace`."""
    parts = text.split(".")
    parts[which] = replace(parts[which])
    return ".".join(parts)


GOOD_TOKEN = token()
# (token, issuer, whether the fast path itself accepts it): pyjwt judges every one of them too.
CASES: list[Any] = [
    pytest.param(GOOD_TOKEN, ISSUER, True, id="good"),
    pytest.param(GOOD_TOKEN, None, True, id="good-no-issuer-checked"),
    pytest.param(token(header={"alg": "HS256"}), ISSUER, True, id="no-typ"),
    pytest.param(token(header={"alg": "HS256", "typ": "JWT", "kid": "k1"}), ISSUER, True, id="kid"),
    pytest.param(token(header={"typ": "JWT", "alg": "HS256"}), ISSUER, True, id="header-order"),
    pytest.param(token(claims_with(aud=["authenticated"])), ISSUER, True, id="aud-list"),
    pytest.param(token(claims_with(aud=["x", "authenticated"])), ISSUER, True, id="aud-list-two"),
    pytest.param(token(claims_with(iat=None)), ISSUER, True, id="no-iat"),
    pytest.param(token(claims_with(nbf=NOW - 10)), ISSUER, True, id="nbf-past"),
    pytest.param(token(claims_with(exp=NOW + 3600.5)), ISSUER, True, id="exp-float"),
    pytest.param(token(claims_with(jti="abc")), ISSUER, True, id="jti"),
    pytest.param(token(claims_with(iss="elsewhere")), None, True, id="other-iss-unchecked"),
    pytest.param(token(claims_with(role="anon", email=None)), ISSUER, True, id="claims-the-reader-checks"),
    # Refusals, and shapes left to pyjwt.
    pytest.param(token(secret="x" * 40), ISSUER, False, id="other-secret"),
    pytest.param(token(claims_with(exp=NOW - 5)), ISSUER, False, id="expired"),
    pytest.param(token(claims_with(exp=None)), ISSUER, False, id="no-exp"),
    pytest.param(token(claims_with(exp=str(NOW + 3600))), ISSUER, False, id="exp-string"),
    pytest.param(token(claims_with(exp=True)), ISSUER, False, id="exp-true"),
    pytest.param(token(claims_with(exp=float("inf"))), ISSUER, False, id="exp-infinite"),
    pytest.param(token(claims_with(exp=float("nan"))), ISSUER, False, id="exp-nan"),
    pytest.param(token(claims_with(iat=NOW + 3600)), ISSUER, False, id="iat-future"),
    pytest.param(token(claims_with(iat="0")), ISSUER, False, id="iat-string"),
    pytest.param(token({**GOOD, "iat": None}), ISSUER, False, id="iat-null"),
    pytest.param(token(claims_with(nbf=NOW + 3600)), ISSUER, False, id="nbf-future"),
    pytest.param(token(claims_with(nbf=[1])), ISSUER, False, id="nbf-list"),
    pytest.param(token(claims_with(aud=None)), ISSUER, False, id="no-aud"),
    pytest.param(token(claims_with(aud="anon")), ISSUER, False, id="aud-other"),
    pytest.param(token(claims_with(aud="")), ISSUER, False, id="aud-empty"),
    pytest.param(token(claims_with(aud=[])), ISSUER, False, id="aud-empty-list"),
    pytest.param(token(claims_with(aud=["authenticated", 1])), ISSUER, False, id="aud-list-not-strings"),
    pytest.param(token(claims_with(aud={"authenticated": 1})), ISSUER, False, id="aud-object"),
    pytest.param(token(claims_with(iss="elsewhere")), ISSUER, False, id="iss-other"),
    pytest.param(token(claims_with(iss=None)), ISSUER, False, id="no-iss"),
    pytest.param(token(claims_with(iss=1)), ISSUER, False, id="iss-number"),
    pytest.param(token(claims_with(sub=None)), ISSUER, False, id="no-sub"),
    pytest.param(token(claims_with(sub=7)), ISSUER, False, id="sub-number"),
    pytest.param(token(claims_with(jti=7)), ISSUER, False, id="jti-number"),
    pytest.param(token({**GOOD, "jti": None}), ISSUER, False, id="jti-null"),
    pytest.param(token(header={"alg": "HS512"}, digest=hashlib.sha512), ISSUER, False, id="hs512"),
    pytest.param(token(header={"alg": "none"}), ISSUER, False, id="alg-none"),
    pytest.param(token(header={"alg": "HS256", "kid": 1}), ISSUER, False, id="kid-number"),
    pytest.param(token(header={"alg": "HS256", "kid": None}), ISSUER, False, id="kid-null"),
    pytest.param(token(header={"alg": "HS256", "crit": ["exp"]}), ISSUER, False, id="crit"),
    pytest.param(token(header={"alg": "HS256", "b64": False, "crit": ["b64"]}), ISSUER, False, id="b64"),
    pytest.param(token(header={"alg": "HS256", "x5u": "https://a.example"}), ISSUER, False, id="x5u"),
    pytest.param(token(header=["HS256"]), ISSUER, False, id="header-array"),
    pytest.param(token(raw_payload=b"[1]"), ISSUER, False, id="payload-array"),
    pytest.param(token(raw_payload=b"not json"), ISSUER, False, id="payload-not-json"),
    pytest.param(token(raw_payload=b"[" * 5000), ISSUER, False, id="payload-deep"),
    pytest.param(segment(2, GOOD_TOKEN, respelled), ISSUER, False, id="signature-respelled"),
    pytest.param(segment(2, GOOD_TOKEN, lambda s: s + "="), ISSUER, False, id="signature-padded"),
    pytest.param(segment(2, GOOD_TOKEN, lambda s: s[:-1]), ISSUER, False, id="signature-short"),
    pytest.param(segment(2, GOOD_TOKEN, lambda s: ""), ISSUER, False, id="signature-empty"),
    pytest.param(segment(1, GOOD_TOKEN, respelled), ISSUER, False, id="payload-respelled"),
    pytest.param(segment(0, GOOD_TOKEN, respelled), ISSUER, False, id="header-respelled"),
    pytest.param(segment(1, GOOD_TOKEN, lambda s: s + "!"), ISSUER, False, id="payload-junk"),
    pytest.param(GOOD_TOKEN + ".x", ISSUER, False, id="four-segments"),
    pytest.param(GOOD_TOKEN.rsplit(".", 1)[0], ISSUER, False, id="two-segments"),
    pytest.param(" " + GOOD_TOKEN, ISSUER, False, id="leading-space"),
    pytest.param(GOOD_TOKEN + "\n", ISSUER, False, id="trailing-newline"),
]


def pyjwt_verdict(text: str, issuer: str | None) -> dict[str, Any] | str:
    """What the session reader's jwt.decode call answers: the claims, or the error's class."""
    try:
        claims: dict[str, Any] = jwt.decode(
            text,
            SECRET,
            algorithms=["HS256"],
            audience="authenticated",
            issuer=issuer,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.InvalidTokenError as exc:
        return type(exc).__name__
    return claims


@pytest.mark.parametrize(("text", "issuer", "fast"), CASES)
def test_accepted_only_as_pyjwt_accepts(text: str, issuer: str | None, fast: bool) -> None:
    """What the fast path accepts, pyjwt accepts with the same claims; what it leaves, pyjwt judges."""
    found = accepted_claims(text, SECRET, "authenticated", issuer, time.time())
    assert (found is not None) == fast
    if found is not None:
        assert found == pyjwt_verdict(text, issuer)


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        pytest.param(claims_with(exp=NOW), False, id="exp-now"),
        pytest.param(claims_with(exp=NOW + 1), True, id="exp-a-second-on"),
        pytest.param(claims_with(iat=NOW), True, id="iat-now"),
        pytest.param(claims_with(iat=NOW + 1), False, id="iat-a-second-on"),
        pytest.param(claims_with(nbf=NOW), True, id="nbf-now"),
        pytest.param(claims_with(nbf=NOW + 1), False, id="nbf-a-second-on"),
    ],
)
def test_times_at_their_edges(claims: dict[str, Any], accepted: bool) -> None:
    """At `now` itself a token has expired, and may be issued and used: as pyjwt at that same second."""
    found = accepted_claims(token(claims), SECRET, "authenticated", ISSUER, float(NOW))
    assert (found is not None) is accepted
    assert found in (None, claims)


def test_the_good_cases_are_all_the_tokens_pyjwt_accepts_in_their_shape() -> None:
    """pyjwt accepts every token the fast path takes, and refuses the refusals listed here."""
    refused = ["other-secret", "expired", "iat-future", "nbf-future", "aud-other", "iss-other", "hs512"]
    verdicts = {case.id: pyjwt_verdict(*case.values[:2]) for case in CASES}
    assert all(isinstance(verdicts[name], str) for name in refused), verdicts
    assert all(isinstance(verdicts[case.id], dict) for case in CASES if case.values[2])


@pytest.mark.parametrize(
    ("secret", "plain"),
    [
        pytest.param(SECRET, True, id="test-secret"),
        pytest.param("super-secret-jwt-token-with-at-least-32-characters-long", True, id="supabase-local"),
        pytest.param("A" * 32, True, id="32-characters"),
        pytest.param("X" * 32, True, id="any-first-letter"),
        pytest.param("A" * 31, False, id="short-pyjwt-warns"),
        pytest.param("", False, id="empty"),
        pytest.param("s3cret with spaces that is long enough!", False, id="space"),
        pytest.param("\u00e9" * 40, False, id="not-ascii"),
        pytest.param(
            "-----BEGIN PUBLIC KEY-----\nMFkw" + "A" * 40 + "\n-----END PUBLIC KEY-----", False, id="pem"
        ),
        pytest.param("ssh-rsa" + "A" * 40, False, id="ssh"),
        pytest.param('{"kty":"oct","k":"' + "A" * 40 + '"}', False, id="jwk"),
        pytest.param("0" + "A" * 40, False, id="may-be-der"),
        pytest.param(b"A" * 40, False, id="bytes"),
    ],
)
def test_plain_secrets(secret: Any, plain: bool) -> None:
    """Only printable ASCII of 32+ characters that looks like no key format is taken without pyjwt."""
    assert plain_secret(secret) is plain
    if plain:  # pyjwt takes it as it is: no refusal, and no warning (warnings are errors here)
        signed = jwt.encode({"sub": "x"}, secret, algorithm="HS256")
        assert jwt.decode(signed, secret, algorithms=["HS256"]) == {"sub": "x"}
