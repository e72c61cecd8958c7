"""handlers.offline.local_secrets: offline mode's own webhook secret and persisted JWT secret."""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
from pathlib import Path

import pytest

from handlers.offline.local_secrets import local_jwt_secret, with_local_secrets
from handlers.session import HS256Keys, SessionReader
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
    """Offline: a whsec_ secret for the process, a JWT secret persisted 0600; nothing is logged."""
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
    assert caplog.records == []  # the start-up summary says which secrets were made, never their values


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


@pytest.mark.parametrize("existing", ["", "var"], ids=["folders-missing", "folder-there"])
def test_the_secret_file_is_made_in_missing_or_existing_folders(tmp_path: Path, existing: str) -> None:
    """Missing folders are created, an existing one is used; nothing else is left in it."""
    if existing:
        (tmp_path / "deep" / existing).mkdir(parents=True)
    path = tmp_path / "deep" / "var" / "local-jwt-secret"
    secret = local_jwt_secret(path)
    assert len(secret) == 64 and path.read_text("utf-8") == secret + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["local-jwt-secret"]


def test_the_secret_is_written_beside_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Made in its own folder, not the system's temporary one (which may be another file system, or gone)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    path = tmp_path / "var" / "local-jwt-secret"

    secret = local_jwt_secret(path)

    assert path.read_text("utf-8") == secret + "\n"


def test_the_secret_is_written_as_a_hidden_file_named_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until it is linked into place the secret is a dot-file beside it, named for it if a crash leaves it."""
    linked: list[Path] = []
    link = os.link

    def spy(source: str, target: Path) -> None:
        linked.append(Path(source))
        link(source, target)

    monkeypatch.setattr(os, "link", spy)
    path = tmp_path / "var" / "local-jwt-secret"

    local_jwt_secret(path)

    [source] = linked
    assert source.parent == path.parent and source.name.startswith(".local-jwt-secret-")
    assert not source.exists()
