"""The PostgreSQL profile store (psycopg 3 and a connection pool), over the Supabase `profiles` table.

The schema and `public.apply_stripe_event` come from `supabase/migrations/`; this module only calls them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar, cast

import psycopg
import psycopg.conninfo
import psycopg_pool

from ..ports import OUTCOMES, Outcome, Profile, ProfileUpdate, StoreError

_SELECT = "SELECT id::text, email, customer_id, price_id, has_access FROM public.profiles WHERE id = %s"
_APPLY = "SELECT public.apply_stripe_event(%s, %s, %s, %s, %s, %s, %s)"
_FORGET = "UPDATE public.profiles SET customer_id = NULL WHERE id = %s AND customer_id = %s"

T = TypeVar("T")
# A health probe waits this long for a connection or an answer, so /healthz answers within 2 s.
PING_SECONDS = 1.5


class PostgresProfiles:
    """Profiles in PostgreSQL; the pool opens on first use, so construction does no I/O."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: int = 5,
        statement_timeout_ms: int = 5000,
    ) -> None:
        _check_url(url)
        connect_timeout = max(2, connect_timeout)
        self._new_pool = partial(
            psycopg_pool.ConnectionPool,
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=connect_timeout + 1,
            open=False,
            kwargs={
                "connect_timeout": connect_timeout,
                "options": f"-c statement_timeout={statement_timeout_ms}",
                # Transaction-mode poolers (Supavisor, PgBouncer) cannot keep prepared statements.
                "prepare_threshold": None,
            },
        )
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._lock = threading.Lock()

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
        """The profile of `user_id`, or None; an id that is not a UUID has no profile."""
        try:
            key = uuid.UUID(user_id)
        except ValueError:
            return None
        row = self._run(lambda db: db.execute(_SELECT, (key,)).fetchone(), "profile read")
        return None if row is None else Profile(row[0], row[1], row[2], row[3], bool(row[4]))

    def apply(self, update: ProfileUpdate) -> Outcome:
        """Apply a Stripe event through `public.apply_stripe_event`, in one transaction."""
        params = (
            update.event_id,
            update.created,
            update.user_id,
            update.customer_id,
            update.email,
            update.price_id,
            update.has_access,
        )
        row = self._run(lambda db: db.execute(_APPLY, params).fetchone(), "profile update")
        outcome = row[0] if row else None
        if outcome not in OUTCOMES:
            raise StoreError(f"profile update gave an unknown outcome {outcome!r}")
        return cast(Outcome, outcome)

    def forget_customer(self, user_id: str, customer_id: str) -> None:
        """Clear the profile's customer if it is still `customer_id`: a webhook's newer one is never wiped."""
        try:
            key = uuid.UUID(user_id)
        except ValueError:
            return
        # The pool's connection context commits on a clean exit.
        self._run(lambda db: db.execute(_FORGET, (key, customer_id)), "profile update")

    def ping(self) -> None:
        """Raise StoreError unless the server answers and has the table, within PING_SECONDS."""

        def probe(db: psycopg.Connection[Any]) -> None:
            db.execute(f"SET LOCAL statement_timeout = '{PING_SECONDS}s'")
            db.execute("SELECT 1 FROM public.profiles LIMIT 1").fetchall()

        self._run(probe, "profile ping", wait=PING_SECONDS)

    def close(self) -> None:
        """Close the pool, when it was opened."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _run(self, work: Callable[[psycopg.Connection[Any]], T], what: str, wait: float | None = None) -> T:
        try:
            with self._connection_pool().connection(timeout=wait) as db:
                return work(db)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            # The type only: a driver message can quote the connection string.
            raise StoreError(f"{what} failed: {type(exc).__name__}") from exc

    def _connection_pool(self) -> psycopg_pool.ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = self._new_pool()
                self._pool.open(wait=False)
            return self._pool


def _check_url(url: str) -> None:
    """StoreError, naming no part of `url`, unless libpq can read it: caught at start-up, not per request."""
    try:
        ports = str(psycopg.conninfo.conninfo_to_dict(url).get("port", "5432"))
        readable = all(port.isdigit() for port in ports.split(","))
    except psycopg.Error:
        readable = False
    if not readable:
        # An unencoded "/", "@" or "%" in the password is the usual cause; the URL itself may hold it.
        raise StoreError(
            "DATABASE_URL is not a PostgreSQL URL libpq can read: percent-encode special characters"
            " in the user name and password"
        )
