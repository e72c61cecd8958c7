"""The composition root: settings -> adapters -> the ASGI app. The only module that knows adapters.

Run it under any ASGI host: `hypercorn 'handlers.app:create_app()'` or
`uvicorn --factory handlers.app:create_app`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from .adapters.offline_payments import OfflinePayments
from .adapters.sqlite_profiles import SQLiteProfiles
from .adapters.stripe_payments import StripePayments
from .asgi import App
from .contract import Contract
from .deps import Deps
from .local_secrets import with_local_secrets
from .ports import Payments, SigningKeys, StoreError
from .session import HS256Keys, NoKeys, SessionReader
from .settings import Settings, SettingsError

log = logging.getLogger("handlers")


def create_app(environ: Mapping[str, str] | None = None) -> App:
    """Build the service from the environment; a bad setting stops start-up with its name."""
    try:
        settings = Settings.from_env(os.environ if environ is None else environ)
        deps = build_deps(settings)
    except (SettingsError, StoreError) as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    return App(deps, max_body_bytes=settings.max_body_bytes, threads=settings.worker_threads)


def build_deps(settings: Settings) -> Deps:
    """The real adapters for `settings`; creates the SQLite table if it is missing."""
    profiles = SQLiteProfiles.from_url(settings.database_url)
    profiles.create()
    settings = with_local_secrets(settings)
    return Deps(
        settings=settings,
        contract=Contract.load(),
        sessions=SessionReader(_signing_keys(settings), settings.token_issuer, settings.auth_cookie_name),
        payments=_payments(settings),
        profiles=profiles,
    )


def _payments(settings: Settings) -> Payments:
    if settings.stripe_secret_key:
        return StripePayments(
            settings.stripe_secret_key,
            api_base=settings.stripe_api_base,
            timeout=settings.stripe_timeout,
            max_retries=settings.stripe_max_retries,
            retry_delay=settings.stripe_retry_delay,
        )
    log.warning(
        "STRIPE_SECRET_KEY is not set: using the OFFLINE Stripe stand-in. "
        "No real payment is made; checkout and portal URLs point at this server."
    )
    return OfflinePayments(f"http://{settings.host}:{settings.port}")


def _signing_keys(settings: Settings) -> SigningKeys:
    if settings.supabase_jwt_secret:
        return HS256Keys(settings.supabase_jwt_secret)
    log.warning("SUPABASE_JWT_SECRET is not set: no session verifies, so create-portal answers 401.")
    return NoKeys()
