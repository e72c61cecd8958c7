"""The embedded profile store: one SQLite file, the same `profiles` columns as the Supabase project."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

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
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            db = self._connection()
            # WAL lets readers go on while the webhook writes.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot create profile store at {self._path}: {exc}") from exc

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
        """The profile of `user_id`, or None; the token is not needed here."""
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

    def apply(self, update: ProfileUpdate) -> Outcome:
        """Apply a Stripe event to its profile and record the event id, in one transaction."""
        try:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                outcome = _apply(db, update)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"profile update failed: {type(exc).__name__}") from exc
        return outcome

    def forget_customer(self, user_id: str, customer_id: str) -> None:
        """Clear the profile's customer if it is still `customer_id`, in one statement."""
        try:
            self._connection().execute(
                "UPDATE profiles SET customer_id = NULL WHERE id = ? AND customer_id = ?",
                (user_id, customer_id),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"profile update failed: {type(exc).__name__}") from exc

    def ping(self) -> None:
        """Raise StoreError unless the file opens and has the table; a lock is waited on 1.5 s at most."""
        try:
            db = self._connection()
            db.execute("PRAGMA busy_timeout = 1500")  # so /healthz answers within 2 s
            try:
                db.execute("SELECT 1 FROM profiles LIMIT 1").fetchall()
            finally:
                db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        except sqlite3.Error as exc:
            raise StoreError(f"profile store unavailable: {type(exc).__name__}") from exc

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
            self._local.identity = None if self._path == ":memory:" else _identity(self._path)
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
    profile_id, by_email = _find(db, update)
    if by_email and _holds_another_customer(db, profile_id, update.customer_id):
        # Anyone can type any email at a signed-out checkout: it must not take over another billing.
        profile_id = None
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


def _find(db: sqlite3.Connection, update: ProfileUpdate) -> tuple[str | None, bool]:
    """The matching profile id, and whether it was found by email alone."""
    if update.user_id:
        db.execute("INSERT OR IGNORE INTO profiles (id) VALUES (?)", (update.user_id,))
        return update.user_id, False
    for column, value in (("customer_id", update.customer_id), ("lower(email)", update.email)):
        if value:
            key = value.lower() if column == "lower(email)" else value
            row = db.execute(f"SELECT id FROM profiles WHERE {column} = ? LIMIT 1", (key,)).fetchone()
            if row is not None:
                return str(row[0]), column == "lower(email)"
    return None, False


def _holds_another_customer(db: sqlite3.Connection, profile_id: str | None, customer_id: str | None) -> bool:
    """Whether the profile already has a Stripe customer other than `customer_id`."""
    row = db.execute("SELECT customer_id FROM profiles WHERE id = ?", (profile_id,)).fetchone()
    return row is not None and row[0] is not None and row[0] != customer_id
