"""The composition root: settings -> adapters -> Router, for the ASGI app and for the edge. The only module
that knows the adapters and the stand-in, each imported where chosen, so a deployment loads what it uses."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, TypeVar, Unpack

from . import contract, logs, summary
from .checkout import create_checkout, read_checkout
from .contract import Contract
from .deps import Deps
from .edge import Edge
from .health import healthz
from .http import Request, Response
from .lazy_app import LazyApp
from .offline.local_secrets import JWT_SECRET_FILE
from .offline.origin import request_origin
from .openapi import SERVED_SCHEMAS, openapi_document, schema_file
from .portal import create_portal
from .ports import Payments, Profiles, SigningKeys, StoreError
from .router import Call, Route, Router, checked_route, route
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


# Offline API calls whose answers carry the stand-in's links, built on the origin the request came to.
LINKED = ("/api/stripe/create-checkout", "/api/stripe/create-portal")
OFFLINE_SESSIONS = "offline-stripe.sqlite3"


def create_app(environ: Mapping[str, str] | None = None, **overrides: Unpack[Overrides]) -> App:
    """The ASGI app from the environment; a bad setting, or a store CHECK_STORE finds down, stops start-up."""
    # The ASGI shim and the offline stand-in are imported where they are used: an edge worker's cold
    # start compiles neither (in Pyodide, the stand-in's pages alone cost 40 ms of imports).
    from .asgi import App

    settings = _configured(lambda: Settings.from_env(os.environ if environ is None else environ))
    logs.configure(settings.log_format)
    offline = None
    if not settings.stripe_secret_key and not {"payments", "stand_in"} & overrides.keys():
        offline = summary.Offline(str(_offline_sessions(settings)), str(JWT_SECRET_FILE))
    _log_summary(summary.lines(settings, offline))
    router = _configured(lambda: build_router(settings, **overrides))
    if settings.check_store:
        try:
            router.deps.profiles.ping()
        except StoreError as exc:
            message = f"CHECK_STORE=on and the profile store does not answer: {exc}"
            raise SystemExit(f"configuration error: {message}") from None
        log.info("store: answered the start-up check (CHECK_STORE=on)")
    return App(router, access=logs.access if settings.access_log else None)


# For hosts that import an object (daphne has no factories): built at lifespan start or first request.
app = LazyApp(create_app)


def create_edge(
    environ: Mapping[str, str], fetch: Fetch | None = None, **overrides: Unpack[Overrides]
) -> Edge:
    """The service for a host without ASGI (a Pyodide worker): Stripe and Supabase REST through `fetch`
    (by default the runtime's, `runtime_fetch()`); sessions verify with the HS256 secret only."""
    settings = _configured(lambda: Settings.from_env(environ))
    logs.configure(settings.log_format)
    own_payments = not {"payments", "stand_in"} & overrides.keys()
    if own_payments:
        _log_summary(summary.lines(settings, jwks=False))

    def transport() -> Fetch:
        from .adapters.fetch import runtime_fetch

        return fetch or runtime_fetch()

    def build() -> Router:
        if own_payments:
            overrides["payments"] = _payments(settings, transport())
        if "profiles" not in overrides:
            if settings.database_url != "supabase":
                raise SettingsError("DATABASE_URL must be supabase at the edge (no TCP, no files there)")
            overrides["profiles"] = _profiles(settings, transport())
        overrides.setdefault("signing_keys", _signing_keys(settings, jwks=False))
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

        settings = with_local_secrets(settings)
        stand_in = payments = _stand_in(settings)
    keys = overrides["signing_keys"] if "signing_keys" in overrides else _signing_keys(settings)
    deps = Deps(
        settings=settings,
        contract=overrides["contract"] if "contract" in overrides else Contract.load(),
        sessions=SessionReader(keys, settings.token_issuer, settings.auth_cookie_name),
        payments=payments,
        profiles=profiles,
        clock=overrides.get("clock", time.time),
    )
    routes = {
        path: {
            method: _traced(found, stand_in if path in LINKED else None) for method, found in methods.items()
        }
        for path, methods in API_ROUTES.items()
    }
    router = Router(deps, routes)
    if stand_in is not None:  # an optional feature adds routes; it is never switched off at run time
        from .offline import pages

        for prefix, methods in pages.routes(stand_in, router.dispatch).items():
            router.add_prefix(prefix, {method: _traced(found) for method, found in methods.items()})
    return router


def _traced(found: Route, stand_in: OfflinePayments | None = None) -> Route:
    """`found`, its request id on the lines it logs; with `stand_in`, its links on the request's origin."""
    prepare = found.prepare

    def traced(request: Request, deps: Deps) -> Call:
        request_id = request.request_id or "-"
        settings = deps.settings
        links = (
            nullcontext()
            if stand_in is None
            else stand_in.links_at(request_origin(request, settings.public_url, settings.trust_proxy_headers))
        )
        call = prepare(request, deps)  # the checks before any I/O log nothing

        def run() -> Response:
            # Set here too: the handler runs in a pool thread, which has no context of the request's.
            token = logs.REQUEST_ID.set(request_id)
            try:
                with links:
                    return call()
            finally:
                logs.REQUEST_ID.reset(token)

        return run

    return replace(found, prepare=traced)


def _offline_sessions(settings: Settings) -> Path:
    """Beside the SQLite profile store, else var/: one file every worker process of this service opens."""
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).with_name(OFFLINE_SESSIONS)
    return Path("var") / OFFLINE_SESSIONS


def _stand_in(settings: Settings) -> OfflinePayments:
    """The offline stand-in, its sessions in a SQLite file so that several workers share them."""
    from .offline.payments import OfflinePayments
    from .offline.sqlite_sessions import SQLiteSessions

    sessions = SQLiteSessions(_offline_sessions(settings))
    sessions.create()
    fallback = settings.public_url or "http://localhost"  # only for a request that names no host
    return OfflinePayments(fallback, settings.stripe_portal_configuration, sessions=sessions)


def _log_summary(lines: list[summary.Line]) -> None:
    for level, line in lines:
        log.log(level, line)  # no args: logging leaves a "%" in it alone


def _configured(build: Callable[[], T]) -> T:
    try:
        return build()
    except (SettingsError, StoreError) as exc:
        raise SystemExit(f"configuration error: {exc}") from None


def _payments(settings: Settings, fetch: Fetch | None = None) -> Payments:
    """The stripe SDK over pooled HTTP, or over `fetch` at the edge (where there is no stand-in)."""
    if not settings.stripe_secret_key:
        raise SettingsError("STRIPE_SECRET_KEY is not set, and the edge has no offline stand-in")
    from .adapters.stripe_payments import StripePayments

    return StripePayments(
        settings.stripe_secret_key,
        api_base=settings.stripe_api_base,
        timeout=settings.stripe_timeout,
        max_retries=settings.stripe_max_retries,
        retry_delay=settings.stripe_retry_delay,
        portal_configuration=settings.stripe_portal_configuration,
        fetch=fetch,
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


def _signing_keys(settings: Settings, jwks: bool = True) -> SigningKeys:
    """HS256 with SUPABASE_JWT_SECRET, and (unless `jwks` is False: the edge) the project's JWKS."""
    secret = settings.supabase_jwt_secret
    if not (jwks and settings.supabase_url):
        return HS256Keys(secret) if secret else NoKeys()
    from .adapters.jwks_keys import JWKSKeys, KeyChain

    hs256 = HS256Keys(secret) if secret else None
    return KeyChain(hs256, JWKSKeys(settings.supabase_url, timeout=settings.supabase_timeout))
