"""handlers.adapters.jwks_keys: ES256 and RS256 tokens verified against the project's JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping

import jwt
import pytest
import requests
import responses

from handlers.adapters.jwks_keys import JWKSKeys, KeyChain, parse_jwks
from handlers.http import Request
from handlers.ports import InvalidToken, KeysUnavailable, User
from handlers.session import HS256Keys, NotSignedIn, SessionReader
from tests.helpers.fakes import COOKIE, ISSUER, SECRET, SUPABASE_URL, USER_ID, make_router, make_token
from tests.helpers.jwks import SigningKey, es256, jwks, rs256

JWKS_URL = f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json"
ES = es256()
RS = rs256()
ADA = User(USER_ID, "ada@example.com")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture(name="mocked")
def _mocked() -> Iterator[responses.RequestsMock]:
    """Requests go to registered responses only."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="keys")
def _keys(clock: Clock) -> JWKSKeys:
    """JWKS keys for the test project: 2 s timeout; the documented 10 minute cache, 30 s between refetches."""
    return JWKSKeys(SUPABASE_URL, timeout=2.0, clock=clock)


def reader(keys: JWKSKeys, secret: str | None = SECRET) -> SessionReader:
    """A session reader as the composition root builds it with SUPABASE_URL set."""
    return SessionReader(KeyChain(HS256Keys(secret) if secret else None, keys), ISSUER, COOKIE)


def publish(mocked: responses.RequestsMock, *keys: SigningKey) -> None:
    """Serve a JWKS of `keys` at the project's JWKS URL."""
    mocked.get(JWKS_URL, json=jwks(*keys))


@pytest.mark.parametrize("key", [ES, RS], ids=["ES256", "RS256"])
def test_asymmetric_tokens_are_accepted(
    mocked: responses.RequestsMock, keys: JWKSKeys, key: SigningKey
) -> None:
    """A token signed with a published ES256 or RS256 key verifies into its user."""
    publish(mocked, ES, RS)
    assert reader(keys).verify(key.token()) == ADA
    assert mocked.calls[0].request.url == JWKS_URL
    assert mocked.calls[0].request.req_kwargs["timeout"] == 2.0  # type: ignore[attr-defined]


def test_hs256_tokens_still_verify_beside_the_jwks(mocked: responses.RequestsMock, keys: JWKSKeys) -> None:
    """A legacy HS256 token verifies with the project secret and never fetches the JWKS."""
    publish(mocked, ES)
    assert reader(keys).verify(make_token()) == ADA
    assert len(mocked.calls) == 0


def test_a_token_from_another_key_is_refused(mocked: responses.RequestsMock, keys: JWKSKeys) -> None:
    """A token whose kid is published but which another private key signed does not verify."""
    publish(mocked, ES)
    forged = es256(ES.kid).token()
    with pytest.raises(NotSignedIn, match="Signature verification failed"):
        reader(keys).verify(forged)


@pytest.mark.parametrize("secret", [SECRET, None], ids=["with-hs256-secret", "jwks-only"])
def test_an_hs256_token_with_an_rs256_kid_is_refused(
    mocked: responses.RequestsMock, keys: JWKSKeys, secret: str | None
) -> None:
    """HS256 signed with the RSA key's public JWK text as the secret (algorithm confusion) never verifies."""
    publish(mocked, RS)
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": RS.kid}).encode())
    payload = b64url(json.dumps(jwt.decode(make_token(), options={"verify_signature": False})).encode())
    public = json.dumps(RS.jwk()).encode()
    signature = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{payload}.{b64url(signature)}"
    with pytest.raises(NotSignedIn):
        reader(keys, secret).verify(confused)


def test_the_algorithm_must_match_the_key(mocked: responses.RequestsMock, keys: JWKSKeys) -> None:
    """A header claiming ES256 with the kid of an RS256 key is refused before any signature check."""
    publish(mocked, ES, RS)
    with pytest.raises(InvalidToken, match="key 'rs-key-1' is for RS256, not ES256"):
        keys.key_for({"alg": "ES256", "kid": RS.kid})
    with pytest.raises(InvalidToken, match="unexpected algorithm 'HS256'"):
        keys.key_for({"alg": "HS256", "kid": RS.kid})
    for nameless in ({"alg": "ES256"}, {"alg": "ES256", "kid": ""}):
        with pytest.raises(InvalidToken, match="^token names no key$"):
            keys.key_for(nameless)


def test_keys_are_cached(mocked: responses.RequestsMock, keys: JWKSKeys, clock: Clock) -> None:
    """Many verifications within the cache age fetch the JWKS once; after it, once more."""
    publish(mocked, ES)
    for _ in range(5):
        keys.key_for({"alg": "ES256", "kid": ES.kid})
    clock.now += 599
    keys.key_for({"alg": "ES256", "kid": ES.kid})  # a known kid refetches only when the cache ages out
    assert len(mocked.calls) == 1
    clock.now += 1
    keys.key_for({"alg": "ES256", "kid": ES.kid})
    assert len(mocked.calls) == 2


def test_an_unknown_kid_refetches_at_most_once_per_interval(
    mocked: responses.RequestsMock, keys: JWKSKeys, clock: Clock
) -> None:
    """Unknown kids refetch once, then not again until the interval passes; a rotated-in key is found."""
    publish(mocked, ES)
    keys.key_for({"alg": "ES256", "kid": ES.kid})
    clock.now += 31
    for _ in range(3):
        with pytest.raises(InvalidToken, match="^token names an unknown key$"):
            keys.key_for({"alg": "RS256", "kid": RS.kid})
    assert len(mocked.calls) == 2
    mocked.replace(responses.GET, JWKS_URL, json=jwks(ES, RS))
    clock.now += 29
    with pytest.raises(InvalidToken, match="^token names an unknown key$"):
        keys.key_for({"alg": "RS256", "kid": RS.kid})
    clock.now += 1
    assert keys.key_for({"alg": "RS256", "kid": RS.kid}).algorithm == "RS256"
    assert len(mocked.calls) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(requests.ReadTimeout("slow"), "signing keys timed out", id="timeout"),
        pytest.param(
            requests.ConnectionError("refused"), "signing keys unreachable: ConnectionError", id="refused"
        ),
    ],
)
def test_transport_failure_is_keys_unavailable_and_not_retried_at_once(
    mocked: responses.RequestsMock, keys: JWKSKeys, body: Exception, message: str
) -> None:
    """A failed fetch raises KeysUnavailable; the next token within the interval fails at once."""
    mocked.get(JWKS_URL, body=body)
    with pytest.raises(KeysUnavailable, match=f"^{message}$"):
        keys.key_for({"alg": "ES256", "kid": ES.kid})
    with pytest.raises(KeysUnavailable, match="^signing keys could not be fetched recently$"):
        keys.key_for({"alg": "ES256", "kid": ES.kid})
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        pytest.param(503, "down", "signing keys answered HTTP 503", id="503"),
        pytest.param(200, "<html>", "signing keys are not JSON", id="html"),
        pytest.param(200, '{"kys": []}', "signing keys document has no key list", id="no-keys"),
    ],
)
def test_bad_answers_are_keys_unavailable(
    mocked: responses.RequestsMock, keys: JWKSKeys, status: int, body: str, message: str
) -> None:
    """A non-200 answer or a document without keys means the keys cannot be had."""
    mocked.get(JWKS_URL, status=status, body=body)
    with pytest.raises(KeysUnavailable, match=f"^{message}$"):
        keys.key_for({"alg": "ES256", "kid": ES.kid})


def test_old_keys_serve_while_a_refresh_fails(
    mocked: responses.RequestsMock, keys: JWKSKeys, clock: Clock
) -> None:
    """Once the cache ages out, a failing endpoint does not stop tokens signed by known keys."""
    publish(mocked, ES)
    keys.key_for({"alg": "ES256", "kid": ES.kid})
    mocked.replace(responses.GET, JWKS_URL, body=requests.ReadTimeout("slow"))
    clock.now += 700
    assert keys.key_for({"alg": "ES256", "kid": ES.kid}).algorithm == "ES256"
    assert len(mocked.calls) == 2


def test_parse_skips_keys_it_cannot_use() -> None:
    """Entries that are not objects, encryption keys, symmetric keys, keys without kid and malformed keys
    are skipped."""
    document = {
        "keys": [
            "not-a-key",
            ES.jwk() | {"kid": "es-enc", "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hs", "alg": "HS256"},
            {k: v for k, v in es256("x").jwk().items() if k != "kid"},
            {"kty": "EC", "kid": "broken", "crv": "P-256", "x": "AA", "y": "AA"},
            {k: v for k, v in RS.jwk().items() if k != "use"},  # no "use": a signing key
            ES.jwk(),
        ]
    }
    assert list(parse_jwks(document)) == [RS.kid, ES.kid]


def test_a_jwks_timeout_through_the_portal_is_a_prompt_500(mocked: responses.RequestsMock) -> None:
    """create-portal with an ES256 token while the JWKS times out answers 500 "could not be verified"."""
    mocked.get(JWKS_URL, body=requests.ReadTimeout("slow"))
    keys = JWKSKeys(SUPABASE_URL, timeout=0.5)
    router = make_router(signing_keys=keys)
    request = Request(
        "POST",
        "/api/stripe/create-portal",
        headers=(("authorization", f"Bearer {ES.token()}"),),
        body=b'{"returnUrl": "https://app.example.com/account"}',
    )
    response = router.dispatch(request)
    assert (response.status, response.body) == (
        500,
        {"error": "Your session could not be verified right now. Please try again."},
    )
    # Prompt: one fetch, bounded by the configured timeout, and no retry within the request.
    sent = [call.request.req_kwargs["timeout"] for call in mocked.calls]  # type: ignore[attr-defined]
    assert sent == [0.5]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(AttributeError("XMLHttpRequest"), id="no-xmlhttprequest"),
        pytest.param(RuntimeError("host fetch failed"), id="runtime-error"),
    ],
)
def test_a_transport_exception_of_any_class_is_keys_unavailable(
    mocked: responses.RequestsMock, keys: JWKSKeys, error: Exception
) -> None:
    """Not only requests' exceptions: whatever the transport raises means the keys cannot be had."""
    mocked.get(JWKS_URL, body=error)
    with pytest.raises(KeysUnavailable, match=f"unreachable: {type(error).__name__}$"):
        keys.key_for({"alg": "ES256", "kid": ES.kid})


def test_keys_come_through_an_injected_fetch(clock: Clock) -> None:
    """With a Fetch given, the JWKS is one GET through it, with the timeout; its TimeoutError is a timeout."""
    sent: list[tuple[str, str, dict[str, str], bytes | None, float]] = []
    fail: list[Exception] = []

    def fetch(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        sent.append((method, url, dict(headers), body, timeout))
        if fail:
            raise fail[0]
        return 200, {"content-type": "application/json"}, json.dumps(jwks(ES)).encode()

    keys = JWKSKeys(SUPABASE_URL, timeout=2.0, min_interval=30.0, fetch=fetch, clock=clock)
    assert keys.key_for({"alg": "ES256", "kid": ES.kid}).algorithm == "ES256"
    assert sent == [("GET", JWKS_URL, {"Accept": "application/json"}, None, 2.0)]

    fail.append(TimeoutError("aborted"))
    fresh = JWKSKeys(SUPABASE_URL, fetch=fetch, clock=clock)
    with pytest.raises(KeysUnavailable, match="^signing keys timed out$"):
        fresh.key_for({"alg": "ES256", "kid": ES.kid})
    assert sent[-1][4] == 5.0  # the default timeout


def test_a_fetched_set_without_the_kid_is_an_unknown_key_until_it_may_be_fetched_again(
    mocked: responses.RequestsMock, keys: JWKSKeys, clock: Clock
) -> None:
    """A JWKS with no usable key is still a fetched answer: its unknown kids are invalid, not unavailable."""
    mocked.get(JWKS_URL, json={"keys": []})
    for _ in range(2):
        with pytest.raises(InvalidToken, match="^token names an unknown key$"):
            keys.key_for({"alg": "ES256", "kid": ES.kid})
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(("later", "served"), [(1199.0, True), (1200.0, False)], ids=["1199-s", "1200-s"])
def test_old_keys_serve_for_twice_the_cache_age_at_most(
    mocked: responses.RequestsMock, clock: Clock, later: float, served: bool
) -> None:
    """While the endpoint fails, the last keys serve up to 20 minutes after they were fetched, not longer."""
    keys = JWKSKeys(SUPABASE_URL, timeout=2.0, clock=clock)
    publish(mocked, ES)
    keys.key_for({"alg": "ES256", "kid": ES.kid})
    mocked.replace(responses.GET, JWKS_URL, body=requests.ReadTimeout("slow"))
    clock.now += later
    if served:
        assert keys.key_for({"alg": "ES256", "kid": ES.kid}).algorithm == "ES256"
    else:
        with pytest.raises(KeysUnavailable, match="^signing keys timed out$"):
            keys.key_for({"alg": "ES256", "kid": ES.kid})


@pytest.mark.parametrize(
    ("url", "jwks_url"),
    [
        pytest.param(
            "https://abcd.supabase.co/", f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json", id="slash"
        ),
        pytest.param(
            "https://gateway.example.com/projectX//",
            "https://gateway.example.com/projectX/auth/v1/.well-known/jwks.json",
            id="path",
        ),
    ],
)
def test_the_jwks_url_is_under_the_project_url_without_its_trailing_slashes(url: str, jwks_url: str) -> None:
    """SUPABASE_URL with or without a slash, or behind a gateway's path."""
    assert JWKSKeys(url).url == jwks_url


def test_without_the_secret_an_hs256_token_is_refused_saying_why() -> None:
    """The chain without an HS256 secret refuses HS256 headers before fetching anything."""
    with pytest.raises(InvalidToken, match="^HS256 tokens are not accepted without SUPABASE_JWT_SECRET$"):
        KeyChain(None, JWKSKeys(SUPABASE_URL, fetch=lambda *args: (500, {}, b""))).key_for({"alg": "HS256"})
