"""handlers.offline.local_secrets and local_token: offline mode's own webhook and session secrets."""

from __future__ import annotations

import logging
import re
import stat
import time
from pathlib import Path

import pytest

from handlers.offline.local_secrets import local_jwt_secret, with_local_secrets
from handlers.offline.local_token import main, mint, user_id_for
from handlers.ports import User
from handlers.session import HS256Keys, NotSignedIn, SessionReader
from handlers.settings import Settings, SettingsError

STRIPE_KEY = "sk_test_local0123456789"


def reader(secret: str, issuer: str | None = None) -> SessionReader:
    """A session reader as the service builds it for `secret`."""
    return SessionReader(HS256Keys(secret), issuer, None)


def test_real_stripe_settings_are_left_alone(tmp_path: Path) -> None:
    """With STRIPE_SECRET_KEY nothing is generated and no file is written."""
    settings = Settings(stripe_secret_key=STRIPE_KEY)

    assert with_local_secrets(settings, tmp_path / "secret") is settings
    assert not (tmp_path / "secret").exists()


def test_offline_mode_fills_both_secrets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Offline: a whsec_ secret for the process, a JWT secret persisted 0600; neither value is logged."""
    path = tmp_path / "var" / "local-jwt-secret"

    with caplog.at_level(logging.INFO):
        first = with_local_secrets(Settings(), path)
    second = with_local_secrets(Settings(), path)

    assert re.fullmatch(r"whsec_[0-9a-f]{64}", first.stripe_webhook_secret or "")
    assert second.stripe_webhook_secret != first.stripe_webhook_secret
    assert first.supabase_jwt_secret == second.supabase_jwt_secret == path.read_text().strip()
    assert len(first.supabase_jwt_secret or "") == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["local-jwt-secret"]
    logged = caplog.text
    assert "STRIPE_WEBHOOK_SECRET is not set" in logged and "SUPABASE_JWT_SECRET is not set" in logged
    assert str(first.stripe_webhook_secret) not in logged and str(first.supabase_jwt_secret) not in logged


def test_offline_mode_keeps_secrets_that_are_set(tmp_path: Path) -> None:
    """Configured secrets win over generated ones, and no file is written."""
    settings = Settings(stripe_webhook_secret="whsec_set", supabase_jwt_secret="jwt-set")

    assert with_local_secrets(settings, tmp_path / "s") == settings
    assert not (tmp_path / "s").exists()


def test_an_empty_secret_file_is_a_setting_error(tmp_path: Path) -> None:
    """An empty file is refused with its path, not used as an empty key."""
    path = tmp_path / "local-jwt-secret"
    path.write_text("\n")

    with pytest.raises(SettingsError, match=r"local-jwt-secret is empty; delete it to make a new secret$"):
        local_jwt_secret(path)


def test_an_unwritable_folder_is_a_setting_error(tmp_path: Path) -> None:
    """A secret path under a regular file is refused with the path and the error class."""
    (tmp_path / "file").write_text("x")

    with pytest.raises(SettingsError, match=r"^cannot read or create .*/file/secret: \w+Error$"):
        local_jwt_secret(tmp_path / "file" / "secret")


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
