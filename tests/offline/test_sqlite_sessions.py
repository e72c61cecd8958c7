"""handlers.offline.sqlite_sessions: sessions in one file, seen by every process that opens it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from handlers.offline.payments import OfflinePayments
from handlers.offline.sqlite_sessions import SQLiteSessions
from handlers.ports import StoreError

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


def test_sessions_are_kept_a_week_after_they_were_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding a session drops those made more than a week before, and keeps one made exactly a week before."""
    store = sessions(tmp_path / "s.sqlite3")
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    store.add_checkout("cs_offline_old", {"id": "cs_offline_old"})

    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0 + 7 * 24 * 3600)
    store.add_checkout("cs_offline_2", {"id": "cs_offline_2"})
    kept = store.checkout("cs_offline_old")
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0 + 7 * 24 * 3600 + 1)
    store.add_checkout("cs_offline_3", {"id": "cs_offline_3"})

    assert kept == {"id": "cs_offline_old"}
    assert store.checkout("cs_offline_old") is None
    assert store.checkout("cs_offline_2") == {"id": "cs_offline_2"}


def test_a_bare_number_is_no_portal_id(tmp_path: Path) -> None:
    """Only bps_offline_<n> names a portal session: "1" alone finds nothing, bps_offline_1 finds it."""
    store = sessions(tmp_path / "s.sqlite3")
    store.add_portal({"customer": "cus_1"})

    assert (store.portal("1"), store.portal("bps_offline_1")) == (None, {"customer": "cus_1"})


def test_missing_folders_are_made(tmp_path: Path) -> None:
    """The file's folders are created however deep, and creating twice is fine."""
    path = tmp_path / "a" / "b" / "s.sqlite3"
    store = sessions(path)
    store.create()
    store.add_checkout("cs_offline_1", {"id": "cs_offline_1"})

    assert store.checkout("cs_offline_1") == {"id": "cs_offline_1"}


@pytest.mark.parametrize(
    ("where", "error"),
    [
        pytest.param("file/s.sqlite3", "FileExistsError", id="folder-is-a-file"),
        pytest.param("folder", "OperationalError", id="file-is-a-folder"),
    ],
)
def test_an_unusable_path_is_a_store_error(tmp_path: Path, where: str, error: str) -> None:
    """A path that cannot hold the file is refused with the path and the error's class."""
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    path = tmp_path / where

    with pytest.raises(StoreError) as raised:
        SQLiteSessions(path).create()

    assert str(raised.value) == f"cannot create the offline sessions file {path}: {error}"


def test_one_thread_keeps_one_connection(tmp_path: Path) -> None:
    """Reads in one thread share its connection, so a session stays readable while the thread lives."""
    path = tmp_path / "s.sqlite3"
    store = sessions(path)
    store.add_checkout("cs_offline_1", {"id": "cs_offline_1"})
    moved = tmp_path / "moved.sqlite3"
    path.rename(moved)

    assert store.checkout("cs_offline_1") == {"id": "cs_offline_1"}
