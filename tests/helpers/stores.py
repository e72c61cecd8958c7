"""Empty profile stores of each kind, for tests that run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from handlers.adapters.postgres_profiles import PostgresProfiles
from handlers.adapters.sqlite_profiles import SQLiteProfiles

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
