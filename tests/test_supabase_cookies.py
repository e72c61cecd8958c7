"""Sessions in cookies exactly as @supabase/ssr writes them (fixtures made by tests/supabase_ssr)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handlers.http import Request
from handlers.session import HS256Keys, NotSignedIn, SessionReader
from handlers.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "supabase_cookies"
SESSIONS = ["short", "long", "raw", "raw-long", "custom-name"]


def load(name: str) -> dict[str, Any]:
    """One fixture file."""
    fixture: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return fixture


def browser_cookie(fixture: dict[str, Any]) -> str:
    """The Cookie header a browser sends back after these Set-Cookie headers."""
    return "; ".join(header.split(";", 1)[0] for header in fixture["set_cookie_headers"])


def reader_for(fixture: dict[str, Any], cookie_name: str | None = None) -> SessionReader:
    """The reader the service builds for the fixture's project, secret and cookie name."""
    settings = Settings(
        supabase_url=fixture["supabase_url"],
        supabase_jwt_secret=fixture["jwt_secret"],
        supabase_auth_cookie=cookie_name or fixture["cookie_name"],
    )
    return SessionReader(HS256Keys(fixture["jwt_secret"]), settings.token_issuer, settings.auth_cookie_name)


def request(cookie: str) -> Request:
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
    reader = reader_for(fixture)
    assert reader.access_token(request(browser_cookie(fixture))) == fixture["access_token"]
    assert reader.user(request(browser_cookie(fixture))).id == fixture["user_id"]


@pytest.mark.parametrize("name", ["short", "long", "custom-name"])
def test_unencoded_base64_values_verify_too(name: str) -> None:
    """base64 values passed on as setAll gave them (no URI encoding needed) read the same.

    Raw JSON is not a legal unencoded cookie value (quotes, commas), so it always arrives URI-encoded.
    """
    fixture = load(name)
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in fixture["cookies"])
    assert reader_for(fixture).user(request(cookie)).id == fixture["user_id"]


@pytest.mark.parametrize("name", ["short", "long", "raw"])
def test_any_project_cookie_is_found_without_a_configured_name(name: str) -> None:
    """With neither SUPABASE_URL nor a cookie name, any sb-*-auth-token cookie is read."""
    fixture = load(name)
    reader = SessionReader(HS256Keys(fixture["jwt_secret"]), None, None)
    assert reader.user(request(browser_cookie(fixture))).id == fixture["user_id"]


def test_a_custom_name_is_not_read_under_the_default_name() -> None:
    """A session under a custom cookie name is not found when the service expects the default one."""
    fixture = load("custom-name")
    with pytest.raises(NotSignedIn):
        reader_for(fixture, "sb-abcd-auth-token").user(request(browser_cookie(fixture)))


@pytest.mark.parametrize("cookie_name", [None, "sb-abcd-auth-token"], ids=["any-name", "configured"])
def test_code_verifier_cookies_are_not_a_session(cookie_name: str | None) -> None:
    """The PKCE -code-verifier cookies alone are no session."""
    verifier = load("code-verifier")
    assert all(c["name"].endswith("-code-verifier") for c in verifier["cookies"])
    reader = SessionReader(HS256Keys(verifier["jwt_secret"]), None, cookie_name)
    with pytest.raises(NotSignedIn, match="no credentials"):
        reader.user(request(browser_cookie(verifier)))


@pytest.mark.parametrize("session", ["short", "long"])
def test_code_verifier_cookies_beside_a_session_change_nothing(session: str) -> None:
    """With verifier cookies sent first, the session cookie is still the one read."""
    fixture = load(session)
    cookie = f"{browser_cookie(load('code-verifier'))}; {browser_cookie(fixture)}"
    assert (
        SessionReader(HS256Keys(fixture["jwt_secret"]), None, None).user(request(cookie)).id
        == (fixture["user_id"])
    )


def test_a_missing_chunk_is_no_session() -> None:
    """A long session with one chunk lost does not decode, so nobody is signed in."""
    fixture = load("long")
    parts = [header.split(";", 1)[0] for header in fixture["set_cookie_headers"]]
    with pytest.raises(NotSignedIn):
        reader_for(fixture).user(request("; ".join(parts[:3] + parts[4:])))
