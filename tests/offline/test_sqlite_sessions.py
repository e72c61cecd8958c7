"""handlers.offline.sqlite_sessions: sessions in one file, seen by every process that opens it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from handlers.offline.payments import OfflinePayments
from handlers.offline.sqlite_sessions import SQLiteSessions

PARAMS = {
    "mode": "payment",
    "line_items": [{"price": "price_pro", "quantity": 1}],
    "success_url": "https://app.example.com/ok",
    "cancel_url": "https://app.example.com/no",
}
ROOT = Path(__file__).resolve().parents[2]


def sessions(path: Path) -> SQLiteSessions:
    """A created store at `path`."""
    store = SQLiteSessions(path)
    store.create()
    return store


def test_a_session_made_through_one_store_is_seen_through_another(tmp_path: Path) -> None:
    """Two stores on one file (two workers): checkout, completion and portal sessions are shared."""
    first, second = sessions(tmp_path / "s.sqlite3"), sessions(tmp_path / "s.sqlite3")
    stand_in = OfflinePayments(sessions=first)
    session_id = stand_in.create_checkout_session(PARAMS, "key-1").rsplit("/", 1)[1]
    portal = stand_in.create_portal_session("cus_1", "https://app.example.com/account").rsplit("/", 1)[1]

    seen = second.checkout(session_id)
    second.complete(session_id)

    assert seen is not None and seen["line_items"] == [{"price": "price_pro", "quantity": 1}]
    assert (first.checkout(session_id) or {}).get("status") == "complete"
    assert portal == "bps_offline_1"
    assert second.portal(portal) == {
        "customer": "cus_1",
        "return_url": "https://app.example.com/account",
        "configuration": None,
    }


def test_the_same_key_keeps_the_first_session(tmp_path: Path) -> None:
    """As Stripe with an idempotency key: a second add under one id keeps the first session."""
    store = sessions(tmp_path / "s.sqlite3")
    store.add_checkout("cs_offline_1", {"id": "cs_offline_1", "mode": "payment"})
    store.add_checkout("cs_offline_1", {"id": "cs_offline_1", "mode": "subscription"})

    assert store.checkout("cs_offline_1") == {"id": "cs_offline_1", "mode": "payment"}


def test_unknown_ids_are_none(tmp_path: Path) -> None:
    """Unknown or malformed ids find nothing; completing one changes nothing."""
    store = sessions(tmp_path / "s.sqlite3")
    store.complete("cs_offline_unknown")

    assert store.checkout("cs_offline_unknown") is None
    assert [store.portal(i) for i in ("bps_offline_9", "bps_offline_x", "cs_1", "bps_offline_")] == [None] * 4


def test_another_process_sees_the_session(tmp_path: Path) -> None:
    """A session made here is read by a separate interpreter opening the same file."""
    path = tmp_path / "var" / "offline-stripe.sqlite3"
    stand_in = OfflinePayments(sessions=sessions(path))
    session_id = stand_in.create_checkout_session(PARAMS, "key-9").rsplit("/", 1)[1]
    code = (
        "import sys; from handlers.offline.sqlite_sessions import SQLiteSessions;"
        "print(SQLiteSessions(sys.argv[1]).checkout(sys.argv[2])['mode'])"
    )

    done = subprocess.run(
        [sys.executable, "-c", code, str(path), session_id],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )

    assert done.stdout == "payment\n"
