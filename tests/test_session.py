"""handlers.session: finding the Supabase access token in a request and verifying it into a User."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from jwt.exceptions import InvalidSubjectError

from handlers.http import Request
from handlers.ports import InvalidToken, KeysUnavailable, User, VerificationKey
from handlers.session import (
    VERIFIED_TOKENS_KEPT,
    HS256Keys,
    NoKeys,
    NotSignedIn,
    SessionReader,
    is_session_cookie,
)
from handlers.settings import Settings
from tests.helpers.fakes import COOKIE, ISSUER, SECRET, USER_ID, cookie_header, make_token

ADA = User(USER_ID, "ada@example.com")
OTHER_SECRET = "another-project-secret-that-is-long-enough!"


def request(*headers: tuple[str, str]) -> Request:
    """A GET request carrying `headers`."""
    return Request("GET", "/api/whatever", headers=headers)


def cookie(value: str) -> tuple[str, str]:
    """A Cookie header line."""
    return ("cookie", value)


def reader_for(settings: Settings) -> SessionReader:
    """The reader the composition root would build for `settings`, over the test secret."""
    return SessionReader(HS256Keys(SECRET), settings.token_issuer, settings.auth_cookie_name)


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs and @supabase/ssr spell it."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def valid_claims() -> dict[str, Any]:
    """The claims of a fresh, valid access token for USER_ID."""
    claims: dict[str, Any] = jwt.decode(make_token(), options={"verify_signature": False})
    return claims


def hand_made_token(alg: str, secret: str | None = None) -> str:
    """A token with valid claims and header `alg`, HMAC-SHA512-signed with `secret` or unsigned when None."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64url(json.dumps(valid_claims()).encode())
    signing_input = f"{header}.{payload}"
    signature = (
        b"" if secret is None else hmac.new(secret.encode(), signing_input.encode(), hashlib.sha512).digest()
    )
    return f"{signing_input}.{b64url(signature)}"


def anon_api_key() -> str:
    """A project's anon API key: a valid signature, but `iss` supabase, role anon, and no `sub` or `aud`."""
    now = int(time.time())
    return jwt.encode(
        {"iss": "supabase", "ref": "abcd", "role": "anon", "iat": now, "exp": now + 3600},
        SECRET,
        algorithm="HS256",
    )


def chunk_cookies(token: str, size: int = 100, name: str = COOKIE, encoding: str = "base64") -> list[str]:
    """The `name.N=value` pairs of a chunked session cookie, in order."""
    return cookie_header(token, name=name, encoding=encoding, chunk=size).split("; ")


@pytest.fixture(name="reader")
def _reader() -> SessionReader:
    """The reader for the test project: HS256 secret, issuer and the derived cookie name."""
    return SessionReader(HS256Keys(SECRET), ISSUER, COOKIE)


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("Bearer {}", id="canonical"),
        pytest.param("bearer {}", id="lower-case-scheme"),
        pytest.param("  BEARER   {}  ", id="upper-case-and-spaces"),
    ],
)
def test_bearer_token_is_accepted(reader: SessionReader, template: str) -> None:
    """A valid token in `Authorization: Bearer` is the signed-in user."""
    token = make_token()
    req = request(("authorization", template.format(token)))
    assert reader.access_token(req) == token
    assert reader.user(req) == ADA


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic dXNlcjpwYXNz", id="basic-scheme"),
        pytest.param("Token {}", id="other-scheme"),
        pytest.param("{}", id="token-without-scheme"),
        pytest.param("Bearer", id="bearer-without-token"),
        pytest.param("Bearer    ", id="bearer-blank-token"),
        pytest.param("", id="empty-header"),
    ],
)
def test_malformed_authorization_header_is_not_signed_in_even_with_a_cookie(
    reader: SessionReader, authorization: str
) -> None:
    """A malformed Authorization header means no credentials; the valid session cookie is not consulted."""
    token = make_token()
    req = request(("authorization", authorization.format(token)), cookie(cookie_header(token)))
    assert reader.access_token(req) is None
    with pytest.raises(NotSignedIn) as info:
        reader.user(req)
    assert str(info.value) == "no credentials"
    assert reader.optional_user(req) is None


def test_bad_bearer_token_does_not_fall_back_to_the_cookie(reader: SessionReader) -> None:
    """A bearer token that fails verification is not signed in, even beside a valid session cookie."""
    req = request(("authorization", "Bearer garbage"), cookie(cookie_header(make_token())))
    assert reader.access_token(req) == "garbage"
    with pytest.raises(NotSignedIn) as info:
        reader.user(req)
    assert str(info.value) == "Not enough segments"


def test_no_credentials_is_not_signed_in(reader: SessionReader) -> None:
    """A request with neither Authorization nor a session cookie is not signed in."""
    req = request(("cookie", "theme=dark"))
    with pytest.raises(NotSignedIn) as info:
        reader.user(req)
    assert str(info.value) == "no credentials"
    assert reader.optional_user(req) is None


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda t: [cookie_header(t)], id="base64-single"),
        pytest.param(lambda t: [cookie_header(t, encoding="raw")], id="raw-json-url-encoded"),
        pytest.param(lambda t: ["; ".join(chunk_cookies(t))], id="base64-chunked"),
        pytest.param(lambda t: ["; ".join(chunk_cookies(t, 60, encoding="raw"))], id="raw-json-chunked"),
        pytest.param(lambda t: [f"theme=dark; {cookie_header(t)}; lang=en"], id="among-other-cookies"),
        pytest.param(
            lambda t: ["; ".join(chunk_cookies(t)[:3]), "; ".join(chunk_cookies(t)[3:])],
            id="chunks-over-two-cookie-headers",
        ),
    ],
)
def test_session_cookie_formats(reader: SessionReader, build: Callable[[str], list[str]]) -> None:
    """The @supabase/ssr cookie is read whole or chunked, base64-encoded or raw JSON."""
    token = make_token()
    req = request(*(cookie(line) for line in build(token)))
    assert reader.access_token(req) == token
    assert reader.user(req) == ADA


def test_chunked_cookie_has_several_chunks() -> None:
    """The chunk size used above really splits the cookie into several chunks and no whole cookie."""
    names = [pair.split("=", 1)[0] for pair in chunk_cookies(make_token())]
    assert names == [f"{COOKIE}.{index}" for index in range(len(names))]
    assert len(names) >= 3


def test_non_empty_whole_cookie_wins_over_chunks(reader: SessionReader) -> None:
    """When both the whole cookie and chunks are sent, the whole cookie's session is used."""
    whole = cookie_header(make_token(email="whole@example.com"))
    chunks = "; ".join(chunk_cookies(make_token(email="chunks@example.com")))
    for line in (f"{whole}; {chunks}", f"{chunks}; {whole}"):
        assert reader.user(request(cookie(line))) == User(USER_ID, "whole@example.com")


def test_non_empty_whole_cookie_that_does_not_decode_hides_the_chunks(reader: SessionReader) -> None:
    """A non-empty whole cookie is used even when it does not decode, so valid chunks beside it are not."""
    chunks = "; ".join(chunk_cookies(make_token()))
    assert reader.access_token(request(cookie(f"{COOKIE}=base64-%25%25; {chunks}"))) is None


def test_empty_whole_cookie_falls_back_to_chunks(reader: SessionReader) -> None:
    """An empty whole cookie counts as absent, so the chunks are read."""
    chunks = "; ".join(chunk_cookies(make_token(email="chunks@example.com")))
    assert reader.user(request(cookie(f"{COOKIE}=; {chunks}"))) == User(USER_ID, "chunks@example.com")


def test_chunks_stop_at_the_first_gap(reader: SessionReader) -> None:
    """A missing chunk ends the value there, so the session is cut short and does not decode."""
    pairs = chunk_cookies(make_token())
    assert reader.access_token(request(cookie("; ".join(pairs[:1] + pairs[2:])))) is None


def test_chunks_after_a_gap_are_ignored(reader: SessionReader) -> None:
    """A chunk past a gap is not appended to the complete chunks before it."""
    pairs = chunk_cookies(make_token())
    stray = f"{COOKIE}.{len(pairs) + 1}=garbage"
    assert reader.user(request(cookie("; ".join([*pairs, stray])))) == ADA


def test_chunks_without_a_first_chunk_are_no_session(reader: SessionReader) -> None:
    """Chunks that do not start at `.0` are not a session."""
    pairs = chunk_cookies(make_token())
    assert reader.access_token(request(cookie("; ".join(pairs[1:])))) is None


def test_custom_cookie_name_from_settings() -> None:
    """SUPABASE_AUTH_COOKIE names the only cookie read, even when SUPABASE_URL is set."""
    reader = reader_for(Settings(supabase_url="https://abcd.supabase.co", supabase_auth_cookie="my-session"))
    token = make_token()
    assert reader.user(request(cookie(cookie_header(token, name="my-session")))) == ADA
    assert reader.user(request(cookie("; ".join(chunk_cookies(token, name="my-session"))))) == ADA
    assert reader.access_token(request(cookie(cookie_header(token)))) is None


@pytest.mark.parametrize(
    ("supabase_url", "name"),
    [
        pytest.param("https://abcd.supabase.co", "sb-abcd-auth-token", id="hosted-project"),
        pytest.param("http://127.0.0.1:54321", "sb-127-auth-token", id="local-ip"),
        pytest.param("http://localhost:54321", "sb-localhost-auth-token", id="localhost"),
    ],
)
def test_cookie_name_derived_from_supabase_url(supabase_url: str, name: str) -> None:
    """Without a custom name, the cookie is `sb-<first label of the host>-auth-token` and no other."""
    reader = reader_for(Settings(supabase_url=supabase_url))
    token = make_token(iss=f"{supabase_url}/auth/v1")
    assert reader.user(request(cookie(cookie_header(token, name=name)))) == ADA
    assert reader.access_token(request(cookie(cookie_header(token, name="sb-other-auth-token")))) is None


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(lambda t: cookie_header(t, name="sb-xyz-auth-token"), id="whole"),
        pytest.param(lambda t: "; ".join(chunk_cookies(t, name="sb-xyz-auth-token")), id="chunked"),
        pytest.param(
            lambda t: f"sb-aaa-auth-token=garbage; {cookie_header(t, name='sb-zzz-auth-token')}",
            id="first-does-not-decode",
        ),
    ],
)
def test_any_supabase_cookie_when_no_name_is_configured(line: Callable[[str], str]) -> None:
    """With neither SUPABASE_AUTH_COOKIE nor SUPABASE_URL, any decodable `sb-*-auth-token` cookie is used."""
    reader = reader_for(Settings())
    token = make_token(iss="https://xyz.supabase.co/auth/v1")
    assert reader.user(request(cookie(line(token)))) == ADA


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("session", id="not-supabase"),
        pytest.param("sb-xyz-auth", id="no-token-suffix"),
        pytest.param("xsb-xyz-auth-token", id="prefixed"),
        pytest.param("sb-xyz-auth-token-code-verifier", id="code-verifier"),
    ],
)
def test_other_cookies_are_not_sessions_when_no_name_is_configured(name: str) -> None:
    """Without a configured name, only cookies named exactly `sb-<ref>-auth-token` are read."""
    reader = reader_for(Settings())
    assert reader.access_token(request(cookie(cookie_header(make_token(), name=name)))) is None


@pytest.mark.parametrize("configured", [pytest.param(COOKIE, id="named"), pytest.param(None, id="any")])
def test_code_verifier_cookie_is_ignored(configured: str | None) -> None:
    """The PKCE `-code-verifier` cookie is never taken for the session, whatever it holds."""
    reader = SessionReader(HS256Keys(SECRET), ISSUER, configured)
    line = cookie_header(make_token(), name=f"{COOKIE}-code-verifier")
    assert reader.access_token(request(cookie(line))) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("base64-A", id="bad-base64-length"),
        pytest.param("base64-%25%25%25", id="bad-base64-characters"),
        pytest.param("base64-" + b64url(b"\xff\xfe{}"), id="base64-not-utf8"),
        pytest.param("base64-" + b64url(b"not json"), id="base64-not-json"),
        pytest.param("base64-" + b64url(b'["access_token"]'), id="base64-json-array"),
        pytest.param(quote('{"access_token"', safe=""), id="raw-not-json"),
        pytest.param(quote('"eyJhbGciOiJIUzI1NiJ9"', safe=""), id="raw-json-string"),
        pytest.param("null", id="raw-json-null"),
        pytest.param("42", id="raw-json-number"),
        pytest.param(quote('{"refresh_token":"r3fr3sh"}', safe=""), id="no-access-token"),
        pytest.param(quote('{"access_token":""}', safe=""), id="empty-access-token"),
        pytest.param(quote('{"access_token":123}', safe=""), id="access-token-not-string"),
        pytest.param(quote('{"access_token":null}', safe=""), id="access-token-null"),
    ],
)
def test_cookie_value_that_does_not_decode_is_no_session(reader: SessionReader, value: str) -> None:
    """A session cookie whose value does not decode to an object with an access token is no credentials."""
    req = request(cookie(f"{COOKIE}={value}"))
    assert reader.access_token(req) is None
    with pytest.raises(NotSignedIn) as info:
        reader.user(req)
    assert str(info.value) == "no credentials"


@pytest.mark.parametrize(
    ("make", "cause", "message"),
    [
        pytest.param(
            lambda: make_token(exp=int(time.time()) - 60),
            jwt.ExpiredSignatureError,
            "Signature has expired",
            id="expired",
        ),
        pytest.param(
            lambda: make_token(nbf=int(time.time()) + 600),
            jwt.ImmatureSignatureError,
            "The token is not yet valid (nbf)",
            id="not-yet-valid",
        ),
        pytest.param(
            lambda: make_token(aud="anon"),
            jwt.InvalidAudienceError,
            "Audience doesn't match",
            id="wrong-audience",
        ),
        pytest.param(
            lambda: make_token(aud=None),
            jwt.MissingRequiredClaimError,
            'Token is missing the "aud" claim',
            id="no-audience",
        ),
        pytest.param(
            lambda: make_token(iss="https://other.supabase.co/auth/v1"),
            jwt.InvalidIssuerError,
            "Invalid issuer",
            id="wrong-issuer",
        ),
        pytest.param(
            lambda: make_token(iss=None),
            jwt.MissingRequiredClaimError,
            'Token is missing the "iss" claim',
            id="no-issuer",
        ),
        pytest.param(
            lambda: hand_made_token("none"), InvalidToken, "unexpected algorithm 'none'", id="alg-none"
        ),
        pytest.param(
            lambda: hand_made_token("HS512", SECRET),
            InvalidToken,
            "unexpected algorithm 'HS512'",
            id="other-hmac-algorithm",
        ),
        pytest.param(
            lambda: make_token(secret=OTHER_SECRET),
            jwt.InvalidSignatureError,
            "Signature verification failed",
            id="wrong-secret",
        ),
        pytest.param(
            lambda: make_token(sub=None),
            jwt.MissingRequiredClaimError,
            'Token is missing the "sub" claim',
            id="no-sub",
        ),
        pytest.param(lambda: make_token(sub=""), None, "not a signed-in user's token", id="empty-sub"),
        pytest.param(
            lambda: make_token(sub=123), InvalidSubjectError, "Subject must be a string", id="sub-not-string"
        ),
        pytest.param(
            lambda: make_token(exp=None),
            jwt.MissingRequiredClaimError,
            'Token is missing the "exp" claim',
            id="no-exp",
        ),
        pytest.param(lambda: make_token(role="anon"), None, "not a signed-in user's token", id="role-anon"),
        pytest.param(
            lambda: make_token(role="service_role"), None, "not a signed-in user's token", id="role-service"
        ),
        pytest.param(lambda: make_token(role=None), None, "not a signed-in user's token", id="no-role"),
        pytest.param(
            anon_api_key, jwt.MissingRequiredClaimError, 'Token is missing the "sub" claim', id="anon-api-key"
        ),
        pytest.param(lambda: "garbage", jwt.DecodeError, "Not enough segments", id="garbage"),
        pytest.param(lambda: "a.b.c", jwt.DecodeError, "Invalid header padding", id="garbage-segments"),
    ],
)
def test_bad_credentials_are_not_signed_in(
    reader: SessionReader, make: Callable[[], str], cause: type[Exception] | None, message: str
) -> None:
    """A token that fails any check is NotSignedIn, for that check's reason, by bearer and by cookie."""
    token = make()
    for req in (request(("authorization", f"Bearer {token}")), request(cookie(cookie_header(token)))):
        with pytest.raises(NotSignedIn) as info:
            reader.user(req)
        assert (type(info.value.__cause__) if cause else None, str(info.value)) == (cause, message)
        assert reader.optional_user(req) is None


def test_role_check_does_not_depend_on_the_issuer_check() -> None:
    """Without a known issuer, an API-key-shaped token with every required claim but role anon is rejected."""
    reader = SessionReader(HS256Keys(SECRET), None, None)
    token = make_token(iss="supabase", role="anon")
    with pytest.raises(NotSignedIn) as info:
        reader.verify(token)
    assert (info.value.__cause__, str(info.value)) == (None, "not a signed-in user's token")


def test_anon_api_key_is_rejected_without_a_known_issuer() -> None:
    """The project's anon API key is not a user's token even when the issuer is not checked."""
    reader = SessionReader(HS256Keys(SECRET), None, None)
    with pytest.raises(NotSignedIn) as info:
        reader.verify(anon_api_key())
    assert str(info.value) == 'Token is missing the "sub" claim'


@pytest.mark.parametrize(
    ("claims", "user"),
    [
        pytest.param({}, ADA, id="with-email"),
        pytest.param({"email": None}, User(USER_ID, None), id="no-email"),
        pytest.param({"email": ""}, User(USER_ID, None), id="empty-email"),
        pytest.param({"email": ["ada@example.com"]}, User(USER_ID, None), id="email-not-string"),
        pytest.param({"aud": ["authenticated", "other"]}, ADA, id="audience-list"),
        pytest.param({"sub": "another-user"}, User("another-user", "ada@example.com"), id="other-subject"),
    ],
)
def test_valid_token_is_the_user(reader: SessionReader, claims: dict[str, Any], user: User) -> None:
    """A valid token is the User named by its `sub` and `email` claims."""
    assert reader.verify(make_token(**claims)) == user


def test_issuer_is_not_checked_when_unknown() -> None:
    """Without SUPABASE_URL, a valid token from any issuer is accepted."""
    reader = SessionReader(HS256Keys(SECRET), None, None)
    assert reader.verify(make_token(iss="https://elsewhere.example.com/auth/v1")) == ADA
    assert reader.verify(make_token(iss=None)) == ADA


def test_no_keys_verifies_nothing() -> None:
    """With no signing key configured, even a well-formed token is NotSignedIn."""
    reader = SessionReader(NoKeys(), ISSUER, COOKIE)
    with pytest.raises(NotSignedIn) as info:
        reader.verify(make_token())
    assert (type(info.value.__cause__), str(info.value)) == (InvalidToken, "no signing key is configured")


def test_hs256_keys_give_the_secret_for_hs256_only() -> None:
    """HS256Keys answers the project secret for HS256 headers and InvalidToken for any other."""
    keys = HS256Keys(SECRET)
    assert keys.key_for({"alg": "HS256", "typ": "JWT"}) == VerificationKey(SECRET, "HS256")
    with pytest.raises(InvalidToken) as info:
        keys.key_for({"typ": "JWT"})
    assert str(info.value) == "unexpected algorithm None"


class UnavailableKeys:
    """A key source whose keys cannot be fetched."""

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """Always KeysUnavailable."""
        raise KeysUnavailable("jwks fetch failed")


def test_keys_unavailable_passes_through() -> None:
    """KeysUnavailable is not turned into NotSignedIn, by user() nor by optional_user()."""
    reader = SessionReader(UnavailableKeys(), ISSUER, COOKIE)
    req = request(("authorization", f"Bearer {make_token()}"))
    with pytest.raises(KeysUnavailable, match="^jwks fetch failed$"):
        reader.user(req)
    with pytest.raises(KeysUnavailable, match="^jwks fetch failed$"):
        reader.optional_user(req)


def test_optional_user_is_the_user_when_signed_in(reader: SessionReader) -> None:
    """optional_user answers the verified user for valid credentials."""
    assert reader.optional_user(request(cookie(cookie_header(make_token())))) == ADA


class CountingKeys:
    """HS256Keys that count how often a token's key is looked up, i.e. how often it is verified."""

    def __init__(self) -> None:
        self.lookups = 0
        self._keys = HS256Keys(SECRET)

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        self.lookups += 1
        return self._keys.key_for(header)


def test_a_verified_token_is_remembered_until_its_exp() -> None:
    """A token seen before is not verified again before its exp; at its exp it is verified afresh."""
    now = [float(int(time.time()))]
    keys = CountingKeys()
    reader = SessionReader(keys, ISSUER, COOKIE, clock=lambda: now[0])
    token = make_token(exp=int(now[0]) + 60)
    assert reader.verify(token) == reader.verify(token) == User(USER_ID, "ada@example.com")
    assert keys.lookups == 1
    now[0] += 60
    reader.verify(token)
    assert keys.lookups == 2


def test_a_refused_token_is_never_remembered() -> None:
    """A token that fails verification fails every time; only successes are remembered."""
    keys = CountingKeys()
    reader = SessionReader(keys, ISSUER, COOKIE)
    token = make_token(aud="anon")
    for _ in range(2):
        with pytest.raises(NotSignedIn):
            reader.verify(token)
    assert keys.lookups == 2


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(f"{COOKIE}={quote('[' * 5000)}", id="raw-nested-too-deep"),
        pytest.param(
            f"{COOKIE}=base64-{base64.urlsafe_b64encode(b'[' * 5000).decode().rstrip('=')}",
            id="base64-nested",
        ),
    ],
)
def test_a_cookie_nested_past_the_parser_is_no_session(cookie: str) -> None:
    """A session cookie nested too deep to parse is no session, not an error."""
    reader = SessionReader(HS256Keys(SECRET), ISSUER, COOKIE)
    assert reader.access_token(Request("POST", "/", headers=(("cookie", cookie),))) is None


def test_a_bearer_token_with_a_nested_header_is_not_signed_in() -> None:
    """A token whose header is nested too deep to parse is refused like any malformed token."""
    head = base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("=")
    reader = SessionReader(HS256Keys(SECRET), ISSUER, COOKIE)
    with pytest.raises(NotSignedIn) as info:
        reader.verify(f"{head}.e30.c2ln")
    assert (type(info.value.__cause__), str(info.value)) == (InvalidToken, "token header nested too deep")


class OtherHmacKeys:
    """Keys that give the project secret for any header, but for HS384."""

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """The secret, as an HS384 key."""
        return VerificationKey(SECRET, "HS384")


def test_a_secret_for_another_algorithm_does_not_verify_an_hs256_token() -> None:
    """The HS256 shortcut serves HS256 keys only: pyjwt refuses an HS256 token for an HS384 key."""
    reader = SessionReader(OtherHmacKeys(), ISSUER, COOKIE)
    with pytest.raises(NotSignedIn) as info:
        reader.verify(make_token())
    assert (type(info.value.__cause__), str(info.value)) == (
        jwt.InvalidAlgorithmError,
        "The specified alg value is not allowed",
    )


@pytest.mark.parametrize("issuer", [ISSUER, None])
def test_a_plain_hs256_token_is_verified_without_pyjwt(
    monkeypatch: pytest.MonkeyPatch, issuer: str | None
) -> None:
    """A token as Supabase issues it, under a plain secret, is read and verified without asking pyjwt."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pyjwt was asked")

    monkeypatch.setattr(jwt, "decode", refuse)
    monkeypatch.setattr(jwt, "get_unverified_header", refuse)
    reader = SessionReader(HS256Keys(SECRET), issuer, COOKIE)
    assert reader.user(request(("authorization", f"Bearer {make_token()}"))) == ADA


@pytest.mark.parametrize(
    ("cookie", "name", "expected"),
    [
        pytest.param("sb-abcd-auth-token", None, True, id="any-whole"),
        pytest.param("sb-abcd-auth-token.3", None, True, id="any-chunk"),
        pytest.param("sb-abcd-auth-token-code-verifier", None, False, id="any-pkce-verifier"),
        pytest.param("sb-a.b-auth-token", None, False, id="any-dot-in-ref"),
        pytest.param("sb-abcd-auth-token.0.1", None, False, id="any-chunk-of-chunk"),
        pytest.param("theme", None, False, id="any-unrelated"),
        pytest.param("my-session", "my-session", True, id="named-whole"),
        pytest.param("my-session.12", "my-session", True, id="named-chunk"),
        pytest.param("sb-abcd-auth-token", "my-session", False, id="named-other-supabase-cookie"),
        pytest.param("my-session.x", "my-session", False, id="named-not-a-chunk"),
    ],
)
def test_is_session_cookie(cookie: str, name: str | None, expected: bool) -> None:
    """The one rule for which cookies carry the session: the named one and its chunks, else any sb-*."""
    assert is_session_cookie(cookie, name) is expected


# --- sessions in cookies exactly as @supabase/ssr writes them (fixtures made by tests/supabase_ssr) ---

FIXTURES = Path(__file__).parent / "fixtures" / "supabase_cookies"
SESSIONS = ["short", "long", "raw", "raw-long", "custom-name"]


def load(name: str) -> dict[str, Any]:
    """One fixture file."""
    fixture: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return fixture


def browser_cookie(fixture: dict[str, Any]) -> str:
    """The Cookie header a browser sends back after these Set-Cookie headers."""
    return "; ".join(header.split(";", 1)[0] for header in fixture["set_cookie_headers"])


def fixture_reader(fixture: dict[str, Any], cookie_name: str | None = None) -> SessionReader:
    """The reader the service builds for the fixture's project, secret and cookie name."""
    settings = Settings(
        supabase_url=fixture["supabase_url"],
        supabase_jwt_secret=fixture["jwt_secret"],
        supabase_auth_cookie=cookie_name or fixture["cookie_name"],
    )
    return SessionReader(HS256Keys(fixture["jwt_secret"]), settings.token_issuer, settings.auth_cookie_name)


def cookie_request(cookie: str) -> Request:
    """A POST carrying `cookie`."""
    return Request("POST", "/api/stripe/create-portal", headers=(("cookie", cookie),))


def test_the_fixtures_cover_what_they_claim() -> None:
    """Short is one cookie, long and raw-long are many chunks, raw is JSON, custom-name uses its name."""
    names = {name: [c["name"] for c in load(name)["cookies"]] for name in SESSIONS}
    assert names["short"] == ["sb-abcd-auth-token"]
    assert names["long"] == [f"sb-abcd-auth-token.{i}" for i in range(len(names["long"]))]
    assert len(names["long"]) >= 5 and len(names["raw-long"]) >= 5
    assert names["custom-name"] == ["my-app-session"]
    assert load("short")["cookies"][0]["value"].startswith("base64-")
    assert load("raw")["cookies"][0]["value"].startswith('{"access_token":')


@pytest.mark.parametrize("name", SESSIONS)
def test_a_browser_cookie_verifies_into_the_user(name: str) -> None:
    """The cookies as a browser returns them (URI-encoded by Set-Cookie) give the signed-in user."""
    fixture = load(name)
    reader = fixture_reader(fixture)
    assert reader.access_token(cookie_request(browser_cookie(fixture))) == fixture["access_token"]
    assert reader.user(cookie_request(browser_cookie(fixture))).id == fixture["user_id"]


@pytest.mark.parametrize("name", ["short", "long", "custom-name"])
def test_unencoded_base64_values_verify_too(name: str) -> None:
    """base64 values passed on as setAll gave them (no URI encoding needed) read the same.

    Raw JSON is not a legal unencoded cookie value (quotes, commas), so it always arrives URI-encoded.
    """
    fixture = load(name)
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in fixture["cookies"])
    assert fixture_reader(fixture).user(cookie_request(cookie)).id == fixture["user_id"]


@pytest.mark.parametrize("name", ["short", "long", "raw"])
def test_any_project_cookie_is_found_without_a_configured_name(name: str) -> None:
    """With neither SUPABASE_URL nor a cookie name, any sb-*-auth-token cookie is read."""
    fixture = load(name)
    reader = SessionReader(HS256Keys(fixture["jwt_secret"]), None, None)
    assert reader.user(cookie_request(browser_cookie(fixture))).id == fixture["user_id"]


def test_a_custom_name_is_not_read_under_the_default_name() -> None:
    """A session under a custom cookie name is not found when the service expects the default one."""
    fixture = load("custom-name")
    with pytest.raises(NotSignedIn):
        fixture_reader(fixture, "sb-abcd-auth-token").user(cookie_request(browser_cookie(fixture)))


@pytest.mark.parametrize("cookie_name", [None, "sb-abcd-auth-token"], ids=["any-name", "configured"])
def test_code_verifier_cookies_are_not_a_session(cookie_name: str | None) -> None:
    """The PKCE -code-verifier cookies alone are no session."""
    verifier = load("code-verifier")
    assert all(c["name"].endswith("-code-verifier") for c in verifier["cookies"])
    reader = SessionReader(HS256Keys(verifier["jwt_secret"]), None, cookie_name)
    with pytest.raises(NotSignedIn, match="no credentials"):
        reader.user(cookie_request(browser_cookie(verifier)))


@pytest.mark.parametrize("session", ["short", "long"])
def test_code_verifier_cookies_beside_a_session_change_nothing(session: str) -> None:
    """With verifier cookies sent first, the session cookie is still the one read."""
    fixture = load(session)
    cookie = f"{browser_cookie(load('code-verifier'))}; {browser_cookie(fixture)}"
    assert (
        SessionReader(HS256Keys(fixture["jwt_secret"]), None, None).user(cookie_request(cookie)).id
        == (fixture["user_id"])
    )


def test_a_missing_chunk_is_no_session() -> None:
    """A long session with one chunk lost does not decode, so nobody is signed in."""
    fixture = load("long")
    parts = [header.split(";", 1)[0] for header in fixture["set_cookie_headers"]]
    with pytest.raises(NotSignedIn):
        fixture_reader(fixture).user(cookie_request("; ".join(parts[:3] + parts[4:])))


def test_remembered_tokens_are_bounded() -> None:
    """At most VERIFIED_TOKENS_KEPT tokens are remembered; one more empties the memory before it is kept."""
    keys = CountingKeys()
    reader = SessionReader(keys, ISSUER, COOKIE)
    first, *others = [make_token(session_id=f"s-{n}") for n in range(VERIFIED_TOKENS_KEPT + 1)]
    for token in [first, *others[:-1]]:
        reader.verify(token)
    reader.verify(first)
    assert keys.lookups == VERIFIED_TOKENS_KEPT  # a full memory still holds the first token

    reader.verify(others[-1])
    reader.verify(first)
    assert keys.lookups == VERIFIED_TOKENS_KEPT + 2
