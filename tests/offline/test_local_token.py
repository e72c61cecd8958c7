"""handlers.offline.local_token: the session token scripts/token prints, verified as the service does."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
import pytest

from handlers.offline.local_secrets import local_jwt_secret, with_local_secrets
from handlers.offline.local_token import main, mint, user_id_for
from handlers.ports import User
from handlers.session import HS256Keys, NotSignedIn, SessionReader
from handlers.settings import Settings

STRIPE_KEY = "sk_test_local0123456789"


def reader(secret: str, issuer: str | None = None) -> SessionReader:
    """A session reader as the service builds it for `secret`."""
    return SessionReader(HS256Keys(secret), issuer, None)


def test_minted_token_is_a_signed_in_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline token verifies as the service verifies sessions, for the email's stable user id."""
    monkeypatch.chdir(tmp_path)
    settings = Settings(supabase_url="http://127.0.0.1:54321")

    token = mint(settings, "ada@example.com", user_id_for("Ada@Example.com "), 1, time.time())

    secret = with_local_secrets(settings).supabase_jwt_secret
    assert secret is not None
    user = reader(secret, "http://127.0.0.1:54321/auth/v1").verify(token)
    assert user == User(user_id_for("ada@example.com"), "ada@example.com")
    with pytest.raises(NotSignedIn):
        reader("another-secret-that-is-long-enough-for-hs256").verify(token)


def test_minted_token_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token minted two hours ago for one hour no longer verifies."""
    monkeypatch.chdir(tmp_path)

    token = mint(Settings(), "ada@example.com", "user-1", 1, time.time() - 7200)

    with pytest.raises(NotSignedIn, match="expired"):
        reader(local_jwt_secret(tmp_path / "var" / "local-jwt-secret")).verify(token)


def test_main_prints_only_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    """With SUPABASE_JWT_SECRET set, it signs with that secret and prints one line."""
    main(
        ["bo@example.com", "--user-id", "user-9"],
        {"SUPABASE_JWT_SECRET": "configured-secret-that-is-long-enough-for-hs256"},
    )

    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert reader("configured-secret-that-is-long-enough-for-hs256").verify(out.strip()) == User(
        "user-9", "bo@example.com"
    )


def test_main_refuses_when_the_service_accepts_no_session() -> None:
    """Real Stripe without SUPABASE_JWT_SECRET: the service verifies nothing, so no token is printed."""
    with pytest.raises(SystemExit) as info:
        main(["ada@example.com"], {"STRIPE_SECRET_KEY": STRIPE_KEY})

    assert str(info.value) == (
        "configuration error: SUPABASE_JWT_SECRET is not set, so the service accepts no session"
    )


SECRET = "configured-secret-that-is-long-enough-for-hs256"


def test_the_token_has_supabases_claims_and_header() -> None:
    """HS256, and the claims a Supabase access token carries, valid `hours` from `now`."""
    token = mint(Settings(supabase_jwt_secret=SECRET), "ada@example.com", "user-1", 1.5, 1_800_000_000.9)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    session_id = claims.pop("session_id")
    assert str(uuid.UUID(session_id)) == session_id
    assert claims == {
        "aud": "authenticated",
        "sub": "user-1",
        "role": "authenticated",
        "email": "ada@example.com",
        "iat": 1_800_000_000,
        "exp": 1_800_005_400,
        "is_anonymous": False,
        "aal": "aal1",
    }


def test_the_user_id_of_an_email_never_changes() -> None:
    """The id local profiles are stored under: any spelling of the email, the same id, run after run."""
    assert (
        user_id_for(" Ada@Example.COM")
        == user_id_for("ada@example.com")
        == "0e2e635a-2b02-5478-bde9-5bf974e21504"
    )


def test_main_reads_hours_and_derives_the_user_id(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--hours takes a fraction; the email's id is the default subject; the process environment is read."""
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    main(["ada@example.com", "--hours", "0.5"])
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["exp"] - claims["iat"]) == (user_id_for("ada@example.com"), 1800)
    main(["ada@example.com"])
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 24 * 3600


def test_help_names_the_script_and_each_option(capsys: pytest.CaptureFixture[str]) -> None:
    """--help is what `scripts/token --help` shows."""
    with pytest.raises(SystemExit):
        main(["--help"], {})
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: scripts/token [-h] [--user-id USER_ID] [--hours HOURS] email")
    assert "print a session token the locally running service accepts" in out
    assert out.endswith(
        " --user-id USER_ID the token's subject (default: derived from the email)"
        " --hours HOURS how long the token is valid (default 24)"
    )
