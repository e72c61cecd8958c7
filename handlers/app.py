"""The composition root: settings -> adapters -> Router, for the ASGI app and for the edge.

The only module that knows the adapters and the offline stand-in. Each adapter is imported where it is
chosen, so a deployment loads only the drivers it uses; tests and other hosts may hand in their own.
Any ASGI host runs it: `hypercorn 'handlers.app:create_app()'`, `uvicorn --factory handlers.app:create_app`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypedDict, TypeVar, Unpack

from . import contract
from .checkout import create_checkout, read_checkout
from .contract import Contract
from .deps import Deps
from .edge import Edge
from .health import healthz
from .openapi import SERVED_SCHEMAS, openapi_document, schema_file
from .portal import create_portal
from .ports import Payments, Profiles, SigningKeys, StoreError
from .router import Route, Router, checked_route, route
from .session import HS256Keys, NoKeys, SessionReader
from .settings import Settings, SettingsError
from .webhook import PATH as WEBHOOK_PATH
from .webhook import stripe_webhook

if TYPE_CHECKING:
    from .adapters.fetch import Fetch
    from .asgi import App
    from .offline.payments import OfflinePayments

log = logging.getLogger("handlers")
T = TypeVar("T")

API_ROUTES: dict[str, dict[str, Route]] = {
    "/api/stripe/create-checkout": {
        "POST": checked_route(read_checkout, create_checkout, contract.CHECKOUT_RESPONSE),
    },
    "/api/stripe/create-portal": {"POST": route(create_portal, contract.PORTAL_RESPONSE)},
    "/healthz": {"GET": route(healthz, contract.HEALTH_RESPONSE, contract.HEALTH_RESPONSE)},
    WEBHOOK_PATH: {"POST": route(stripe_webhook, contract.WEBHOOK_RESPONSE)},
    "/openapi.json": {"GET": route(openapi_document, contract.OPENAPI_RESPONSE)},
    **{f"/{name}": {"GET": route(schema_file, contract.SCHEMA_RESPONSE)} for name in SERVED_SCHEMAS},
}


class Overrides(TypedDict, total=False):
    """What a caller may hand in instead of what the settings choose (tests, other hosts)."""

    payments: Payments
    profiles: Profiles
    signing_keys: SigningKeys
    stand_in: OfflinePayments  # the offline stand-in as the payments, its pages routed
    contract: Contract
    clock: Callable[[], float]


def create_app(environ: Mapping[str, str] | None = None, **overrides: Unpack[Overrides]) -> App:
    """The ASGI app from the environment; a bad setting stops start-up with its name."""
    # The ASGI shim and the offline stand-in are imported where they are used: an edge worker's cold
    # start compiles neither (in Pyodide, the stand-in's pages alone cost 40 ms of imports).
    from .asgi import App

    settings = _configured(lambda: Settings.from_env(os.environ if environ is None else environ))
    return App(_configured(lambda: build_router(settings, **overrides)))


def create_edge(
    environ: Mapping[str, str], fetch: Fetch | None = None, **overrides: Unpack[Overrides]
) -> Edge:
    """The service for a host without ASGI (a Pyodide worker): Stripe and Supabase REST through `fetch`.

    `fetch` defaults to the JavaScript runtime's (`runtime_fetch()`). Profiles live behind Supabase's REST
    API (`DATABASE_URL=supabase`), and sessions verify with the HS256 project secret only.
    """
    settings = _configured(lambda: Settings.from_env(environ))

    def transport() -> Fetch:
        if fetch is not None:
            return fetch
        from .adapters.fetch import runtime_fetch

        return runtime_fetch()

    def build() -> Router:
        if "payments" not in overrides and "stand_in" not in overrides:
            overrides["payments"] = _payments(settings, transport())
        if "profiles" not in overrides:
            if settings.database_url != "supabase":
                raise SettingsError("DATABASE_URL must be supabase at the edge (no TCP, no files there)")
            overrides["profiles"] = _profiles(settings, transport())
        if "signing_keys" not in overrides:
            overrides["signing_keys"] = _hs256_keys(settings)
        return build_router(settings, **overrides)

    return Edge(_configured(build))


def build_router(settings: Settings, **overrides: Unpack[Overrides]) -> Router:
    """Settings -> adapters -> Router. Without a Stripe key: the offline stand-in, with its pages routed."""
    profiles = overrides["profiles"] if "profiles" in overrides else _profiles(settings)
    stand_in = overrides.get("stand_in")
    payments = overrides.get("payments", stand_in)
    if payments is None and settings.stripe_secret_key:
        payments = _payments(settings)
    elif payments is None:
        from .offline.local_secrets import with_local_secrets
        from .offline.payments import OfflinePayments

        settings = with_local_secrets(settings)
        log.warning(
            "STRIPE_SECRET_KEY is not set: using the OFFLINE Stripe stand-in. "
            "No real payment is made; checkout and portal URLs point at this server."
        )
        base_url = f"http://{settings.host}:{settings.port}"
        stand_in = payments = OfflinePayments(base_url, settings.stripe_portal_configuration)
    keys = overrides["signing_keys"] if "signing_keys" in overrides else _signing_keys(settings)
    deps = Deps(
        settings=settings,
        contract=overrides["contract"] if "contract" in overrides else Contract.load(),
        sessions=SessionReader(keys, settings.token_issuer, settings.auth_cookie_name),
        payments=payments,
        profiles=profiles,
        clock=overrides.get("clock", time.time),
    )
    router = Router(deps, API_ROUTES)
    if stand_in is not None:  # an optional feature adds routes; it is never switched off at run time
        from .offline import pages

        for prefix, methods in pages.routes(stand_in, router.dispatch).items():
            router.add_prefix(prefix, methods)
    return router


def _configured(build: Callable[[], T]) -> T:
    try:
        return build()
    except (SettingsError, StoreError) as exc:
        raise SystemExit(f"configuration error: {exc}") from None


def _payments(settings: Settings, fetch: Fetch | None = None) -> Payments:
    """The stripe SDK over pooled HTTP, or over `fetch` at the edge (where there is no stand-in)."""
    key, base, timeout = settings.stripe_secret_key, settings.stripe_api_base, settings.stripe_timeout
    if not key:
        raise SettingsError("STRIPE_SECRET_KEY is not set, and the edge has no offline stand-in")
    if fetch is not None:
        from .adapters.fetch_http import FetchStripePayments

        return FetchStripePayments(
            key,
            fetch,
            api_base=base,
            timeout=timeout,
            max_retries=settings.stripe_max_retries,
            portal_configuration=settings.stripe_portal_configuration,
        )
    from .adapters.stripe_payments import StripePayments

    return StripePayments(
        key,
        api_base=base,
        timeout=timeout,
        max_retries=settings.stripe_max_retries,
        retry_delay=settings.stripe_retry_delay,
        portal_configuration=settings.stripe_portal_configuration,
    )


def _profiles(settings: Settings, fetch: Fetch | None = None) -> Profiles:
    """The store DATABASE_URL names; the REST store sends through `fetch` when one is given (the edge)."""
    url = settings.database_url
    if url == "supabase":
        from .adapters.supabase_profiles import SupabaseProfiles

        assert settings.supabase_url and settings.supabase_anon_key and settings.supabase_service_role_key
        return SupabaseProfiles(
            settings.supabase_url,
            settings.supabase_anon_key,
            settings.supabase_service_role_key,
            timeout=settings.supabase_timeout,
            fetch=fetch,
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
    if not settings.supabase_url:
        return _hs256_keys(settings)
    from .adapters.jwks_keys import JWKSKeys, KeyChain

    if not settings.supabase_jwt_secret:
        log.warning("SUPABASE_JWT_SECRET is not set: only ES256/RS256 sessions (the project's JWKS) verify.")
    hs256 = HS256Keys(settings.supabase_jwt_secret) if settings.supabase_jwt_secret else None
    return KeyChain(hs256, JWKSKeys(settings.supabase_url, timeout=settings.supabase_timeout))


def _hs256_keys(settings: Settings) -> SigningKeys:
    if settings.supabase_jwt_secret:
        return HS256Keys(settings.supabase_jwt_secret)
    log.warning("SUPABASE_JWT_SECRET is not set: no session verifies, so create-portal answers 401.")
    return NoKeys()
