"""The composition root: settings -> adapters -> the ASGI app. The only module that knows adapters.

Each adapter is imported where it is chosen, so a deployment loads only the drivers it uses.

Run it under any ASGI host: `hypercorn 'handlers.app:create_app()'` or
`uvicorn --factory handlers.app:create_app`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from .asgi import App
from .contract import Contract
from .deps import Deps
from .local_secrets import with_local_secrets
from .ports import Payments, Profiles, SigningKeys, StoreError
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
    profiles = _profiles(settings)
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
        from .adapters.stripe_payments import StripePayments

        return StripePayments(
            settings.stripe_secret_key,
            api_base=settings.stripe_api_base,
            timeout=settings.stripe_timeout,
            max_retries=settings.stripe_max_retries,
            retry_delay=settings.stripe_retry_delay,
            portal_configuration=settings.stripe_portal_configuration,
        )
    log.warning(
        "STRIPE_SECRET_KEY is not set: using the OFFLINE Stripe stand-in. "
        "No real payment is made; checkout and portal URLs point at this server."
    )
    from .adapters.offline_payments import OfflinePayments

    return OfflinePayments(f"http://{settings.host}:{settings.port}", settings.stripe_portal_configuration)


def _profiles(settings: Settings) -> Profiles:
    url = settings.database_url
    if url == "supabase":
        assert settings.supabase_url and settings.supabase_anon_key and settings.supabase_service_role_key
        from .adapters.supabase_profiles import SupabaseProfiles

        return SupabaseProfiles(
            settings.supabase_url,
            settings.supabase_anon_key,
            settings.supabase_service_role_key,
            timeout=settings.supabase_timeout,
        )
    if url.startswith(("postgresql://", "postgres://")):
        # No I/O here: the pool opens on the first request, and the schema comes from the migration.
        from .adapters.postgres_profiles import PostgresProfiles

        return PostgresProfiles(url)
    from .adapters.sqlite_profiles import SQLiteProfiles

    sqlite = SQLiteProfiles.from_url(url)
    sqlite.create()
    return sqlite


def _signing_keys(settings: Settings) -> SigningKeys:
    if settings.supabase_url:
        from .adapters.jwks_keys import JWKSKeys, KeyChain

        hs256 = HS256Keys(settings.supabase_jwt_secret) if settings.supabase_jwt_secret else None
        if hs256 is None:
            log.warning(
                "SUPABASE_JWT_SECRET is not set: only ES256/RS256 sessions (the project's JWKS) verify."
            )
        return KeyChain(hs256, JWKSKeys(settings.supabase_url, timeout=settings.supabase_timeout))
    if settings.supabase_jwt_secret:
        return HS256Keys(settings.supabase_jwt_secret)
    log.warning("SUPABASE_JWT_SECRET is not set: no session verifies, so create-portal answers 401.")
    return NoKeys()
