"""The embedded profile store: one SQLite file, the same `profiles` columns as the Supabase project."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..ports import Outcome, Profile, ProfileUpdate, StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY,
    email TEXT,
    customer_id TEXT,
    price_id TEXT,
    has_access INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS stripe_events (
    id TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    profile_id TEXT,
    outcome TEXT NOT NULL,
    processed_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS stripe_events_profile ON stripe_events (profile_id, created);
"""

T = TypeVar("T")


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
        try:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)  # ":memory:" has ".", which is there
            db = self._connection()
            # WAL lets readers go on while the webhook writes.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot create profile store at {self._path}: {exc}") from exc

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
        """The profile of `user_id`, or None; the token is not needed here."""
        select = "SELECT id, email, customer_id, price_id, has_access FROM profiles WHERE id = ?"
        row = self._run("profile read failed", lambda db: db.execute(select, (user_id,)).fetchone())
        return None if row is None else Profile(row[0], row[1], row[2], row[3], bool(row[4]))

    def put(self, profile: Profile) -> None:
        """Insert or replace a whole profile."""
        insert = (
            "INSERT OR REPLACE INTO profiles (id, email, customer_id, price_id, has_access)"
            " VALUES (?, ?, ?, ?, ?)"
        )
        values = (profile.id, profile.email, profile.customer_id, profile.price_id, int(profile.has_access))
        self._run("profile write failed", lambda db: db.execute(insert, values))

    def apply(self, update: ProfileUpdate) -> Outcome:
        """Apply a Stripe event to its profile and record the event id, in one transaction."""

        def transaction(db: sqlite3.Connection) -> Outcome:
            db.execute("BEGIN IMMEDIATE")
            with db:  # COMMIT, or ROLLBACK on any exception
                return _apply(db, update)

        return self._run("profile update failed", transaction)

    def forget_customer(self, user_id: str, customer_id: str) -> None:
        """Clear the profile's customer if it is still `customer_id`, in one statement."""
        forget = "UPDATE profiles SET customer_id = NULL WHERE id = ? AND customer_id = ?"
        self._run("profile update failed", lambda db: db.execute(forget, (user_id, customer_id)))

    def ping(self) -> None:
        """Raise StoreError unless the file opens and has the table; a lock is waited on 1.5 s at most."""

        def check(db: sqlite3.Connection) -> None:
            (kept,) = db.execute("PRAGMA busy_timeout").fetchone()
            db.execute("PRAGMA busy_timeout = 1500")  # so /healthz answers within 2 s
            try:
                db.execute("SELECT 1 FROM profiles LIMIT 1").fetchall()
            finally:
                db.execute(f"PRAGMA busy_timeout = {kept}")

        self._run("profile store unavailable", check)

    def _run(self, failed: str, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._connection())
        except sqlite3.Error as exc:
            raise StoreError(f"{failed}: {type(exc).__name__}") from exc

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None and self._path != ":memory:" and _identity(self._path) != self._local.identity:
            # The file was deleted or replaced: an open handle would go on reading the old one.
            db.close()
            db = self._local.db = None
        if db is None:
            try:
                # Autocommit: apply() opens its own BEGIN IMMEDIATE transaction.
                db = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open profile store: {type(exc).__name__}") from exc
            self._local.db = db
            self._local.identity = _identity(self._path)  # never read for ":memory:"
        return db


def _identity(path: str) -> tuple[int, int] | None:
    """The file's (device, inode), or None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _apply(db: sqlite3.Connection, update: ProfileUpdate) -> Outcome:
    if db.execute("SELECT 1 FROM stripe_events WHERE id = ?", (update.event_id,)).fetchone():
        return "duplicate"
    profile_id = _find(db, update)
    outcome: Outcome = "unmatched"
    if profile_id is not None:
        (last,) = db.execute(
            "SELECT max(created) FROM stripe_events WHERE profile_id = ? AND outcome = 'applied'",
            (profile_id,),
        ).fetchone()
        outcome = "stale" if last is not None and last > update.created else "applied"
    if outcome == "applied":
        has_access = None if update.has_access is None else int(update.has_access)
        db.execute(
            "UPDATE profiles SET customer_id = coalesce(?, customer_id), price_id = coalesce(?, price_id),"
            " has_access = coalesce(?, has_access), email = coalesce(nullif(email, ''), ?) WHERE id = ?",
            (update.customer_id, update.price_id, has_access, update.email, profile_id),
        )
    db.execute(
        "INSERT INTO stripe_events (id, created, profile_id, outcome) VALUES (?, ?, ?, ?)",
        (update.event_id, update.created, profile_id, outcome),
    )
    return outcome


def _find(db: sqlite3.Connection, update: ProfileUpdate) -> str | None:
    """The id of the profile `update` applies to, created when it names a user."""
    if update.user_id:
        db.execute("INSERT OR IGNORE INTO profiles (id) VALUES (?)", (update.user_id,))
        return update.user_id
    if update.customer_id:
        row = db.execute(
            "SELECT id FROM profiles WHERE customer_id = ? LIMIT 1", (update.customer_id,)
        ).fetchone()
        if row is not None:
            return str(row[0])
    if update.email:
        row = db.execute(
            "SELECT id, customer_id FROM profiles WHERE lower(email) = ? LIMIT 1", (update.email.lower(),)
        ).fetchone()
        # Anyone can type any email at a signed-out checkout: it must not take over another billing.
        if row is not None and row[1] in (None, update.customer_id):
            return str(row[0])
    return None
