"""Secrets offline mode makes for itself (no STRIPE_SECRET_KEY): a webhook secret for this process, and a
JWT secret in `var/local-jwt-secret` that `scripts/serve` and `scripts/token` share. Never logged."""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import replace
from pathlib import Path

from ..settings import Settings, SettingsError

JWT_SECRET_FILE = Path("var") / "local-jwt-secret"


def with_local_secrets(settings: Settings, jwt_secret_file: Path = JWT_SECRET_FILE) -> Settings:
    """`settings` with the secrets offline mode lacks filled in; unchanged when Stripe is real."""
    if settings.stripe_secret_key:
        return settings
    if not settings.stripe_webhook_secret:
        settings = replace(settings, stripe_webhook_secret="whsec_" + secrets.token_hex(32))
    if not settings.supabase_jwt_secret:
        settings = replace(settings, supabase_jwt_secret=local_jwt_secret(jwt_secret_file))
    return settings


def local_jwt_secret(path: Path = JWT_SECRET_FILE) -> str:
    """The secret in `path`, created (readable by its owner only) when missing; safe when two race."""
    try:
        return _read_or_create(path)
    except OSError as exc:
        raise SettingsError(f"cannot read or create {path}: {type(exc).__name__}") from exc


def _read_or_create(path: Path) -> str:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".local-jwt-secret-")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temporary, path)  # atomic, and refuses to replace one another process just made
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text("utf-8").strip()
    if not value:
        raise SettingsError(f"{path} is empty; delete it to make a new secret")
    return value
