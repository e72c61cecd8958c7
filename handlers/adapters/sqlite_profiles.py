"""The embedded profile store: one SQLite file, the same `profiles` columns as the Supabase project."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..ports import Profile, StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY,
    email TEXT,
    customer_id TEXT,
    price_id TEXT,
    has_access INTEGER NOT NULL DEFAULT 0
)
"""


class SQLiteProfiles:
    """Profiles in a SQLite file; one connection per thread, since handlers run in a pool."""

    def __init__(self, path: str | Path, timeout: float = 5.0) -> None:
        self._path = str(path)
        self._timeout = timeout
        self._local = threading.local()

    @classmethod
    def from_url(cls, url: str) -> SQLiteProfiles:
        """The store named by `sqlite:///relative/path` or `sqlite:////absolute/path`."""
        return cls(url.removeprefix("sqlite:///"))

    def create(self) -> None:
        """Create the file's folder and the `profiles` table when missing."""
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            # WAL lets readers go on while the webhook writes.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)

    def get(self, user_id: str) -> Profile | None:
        """The profile of `user_id`, or None."""
        try:
            row = (
                self._connection()
                .execute(
                    "SELECT id, email, customer_id, price_id, has_access FROM profiles WHERE id = ?",
                    (user_id,),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"profile read failed: {type(exc).__name__}") from exc
        if row is None:
            return None
        return Profile(row[0], row[1], row[2], row[3], bool(row[4]))

    def put(self, profile: Profile) -> None:
        """Insert or replace a whole profile."""
        try:
            with self._connection() as db:
                db.execute(
                    "INSERT OR REPLACE INTO profiles (id, email, customer_id, price_id, has_access)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        profile.id,
                        profile.email,
                        profile.customer_id,
                        profile.price_id,
                        int(profile.has_access),
                    ),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"profile write failed: {type(exc).__name__}") from exc

    def ping(self) -> None:
        """Raise StoreError unless the file opens and has the table."""
        try:
            self._connection().execute("SELECT 1 FROM profiles LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"profile store unavailable: {type(exc).__name__}") from exc

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self._path, timeout=self._timeout)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open profile store: {type(exc).__name__}") from exc
            self._local.db = db
        return db
