"""The stand-in's sessions in one SQLite file, so that every worker process of a host sees every session
(with `--workers 2`, Pay may run in another process than create-checkout). sqlite3 loads on first use."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..ports import StoreError

if TYPE_CHECKING:
    import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkout_sessions (id TEXT PRIMARY KEY, body TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS portal_sessions (n INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
"""
# Sessions are a demo's: a week after they were made they are of no use to anyone.
KEPT_SECONDS = 7 * 24 * 3600
PORTAL_PREFIX = "bps_offline_"


class SQLiteSessions:
    """Checkout and portal sessions as JSON rows in `path`; one connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def create(self) -> None:
        """Create the file's folder and tables when missing (workers may race: each succeeds); StoreError."""
        import sqlite3

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as db:
                db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot create the offline sessions file {self.path}: {type(exc).__name__}"
            ) from exc

    def add_checkout(self, session_id: str, session: dict[str, Any]) -> None:
        """Keep `session` under `session_id`, unless one is kept there already; drop week-old ones."""
        now = time.time()
        with self._connection() as db:
            db.execute("DELETE FROM checkout_sessions WHERE created < ?", (now - KEPT_SECONDS,))
            db.execute(
                "INSERT OR IGNORE INTO checkout_sessions (id, body, created) VALUES (?, ?, ?)",
                (session_id, json.dumps(session), now),
            )

    def checkout(self, session_id: str) -> dict[str, Any] | None:
        """The checkout session, or None."""
        row = (
            self._connection()
            .execute("SELECT body FROM checkout_sessions WHERE id = ?", (session_id,))
            .fetchone()
        )
        return _session(row)

    def complete(self, session_id: str) -> None:
        """Mark the checkout session paid, in one transaction; an unknown id is ignored."""
        with self._connection() as db:
            row = db.execute("SELECT body FROM checkout_sessions WHERE id = ?", (session_id,)).fetchone()
            session = _session(row)
            if session is not None:
                session["status"] = "complete"
                db.execute(
                    "UPDATE checkout_sessions SET body = ? WHERE id = ?", (json.dumps(session), session_id)
                )

    def add_portal(self, session: dict[str, Any]) -> str:
        """Keep a portal session; its id counts up from 1 across every worker."""
        with self._connection() as db:
            cursor = db.execute("INSERT INTO portal_sessions (body) VALUES (?)", (json.dumps(session),))
        return f"{PORTAL_PREFIX}{cursor.lastrowid}"

    def portal(self, session_id: str) -> dict[str, Any] | None:
        """The portal session, or None."""
        number = session_id.removeprefix(PORTAL_PREFIX)
        if number == session_id or not number.isdigit():
            return None
        db = self._connection()
        return _session(db.execute("SELECT body FROM portal_sessions WHERE n = ?", (int(number),)).fetchone())

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            import sqlite3

            # A write another worker holds is waited for up to sqlite3's default 5 seconds.
            db = self._local.db = sqlite3.connect(self.path)
        return db


def _session(row: tuple[str] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    session: dict[str, Any] = json.loads(row[0])  # only this class writes the rows: always an object
    return session
