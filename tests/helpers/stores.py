"""Empty profile stores of each kind, for tests that run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg

from handlers.adapters.postgres_profiles import PostgresProfiles
from handlers.adapters.sqlite_profiles import SQLiteProfiles
from tests.helpers.postgres import SupabaseDatabase

KINDS = ["sqlite", "postgres"]


@contextmanager
def empty_store(
    kind: str,
    folder: Path,
    postgres_url: Callable[[], str],
    *,
    sqlite_timeout: float = 5.0,
    pool_size: int = 4,
) -> Iterator[SQLiteProfiles | PostgresProfiles]:
    """A created SQLite file in `folder`, or the throwaway PostgreSQL emptied; closed afterwards."""
    if kind == "sqlite":
        sqlite = SQLiteProfiles(folder / "profiles.sqlite3", timeout=sqlite_timeout)
        sqlite.create()
        yield sqlite
        return
    url = postgres_url()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("TRUNCATE public.profiles, public.stripe_events")
    postgres = PostgresProfiles(url, max_size=pool_size)
    try:
        yield postgres
    finally:
        postgres.close()


def reset_supabase(database: SupabaseDatabase, users: Mapping[str, str]) -> None:
    """Empty profiles, events and auth users, then add `users` (id -> email) as Supabase Auth would."""
    with psycopg.connect(database.admin_url, autocommit=True) as db:
        db.execute("TRUNCATE public.profiles, public.stripe_events, auth.users")
        for user_id, email in users.items():
            db.execute(
                "INSERT INTO auth.users (id, aud, role, email)"
                " VALUES (%s, 'authenticated', 'authenticated', %s)",
                (user_id, email),
            )


def delete_user(database: SupabaseDatabase, user_id: str) -> None:
    """Delete an auth user as the dashboard or the Auth admin API does (the profile goes with it)."""
    with psycopg.connect(database.admin_url, autocommit=True) as db:
        db.execute("DELETE FROM auth.users WHERE id = %s", (user_id,))


@contextmanager
def supabase_store(database: SupabaseDatabase, users: Mapping[str, str]) -> Iterator[PostgresProfiles]:
    """The PostgreSQL store as a Supabase project's DATABASE_URL gives it (role postgres), over `users`."""
    reset_supabase(database, users)
    postgres = PostgresProfiles(database.postgres_url, max_size=8)
    try:
        yield postgres
    finally:
        postgres.close()
