"""handlers.adapters.sqlite_profiles: the embedded SQLite profile store."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.ports import Profile, ProfileUpdate, StoreError

ADA = Profile(
    "user-ada", email="ada@example.com", customer_id="cus_123", price_id="price_456", has_access=True
)


@pytest.fixture(name="path")
def _path(tmp_path: Path) -> Path:
    """A database path inside folders that do not exist yet."""
    return tmp_path / "var" / "data" / "profiles.sqlite3"


@pytest.fixture(name="store")
def _store(path: Path) -> SQLiteProfiles:
    """A created, empty store."""
    store = SQLiteProfiles(path)
    store.create()
    return store


def test_create_makes_the_folder_and_table(path: Path) -> None:
    """create() makes the missing folders, the file, and the `profiles` table in WAL mode."""
    assert not path.parent.exists()
    SQLiteProfiles(path).create()
    with closing(sqlite3.connect(path)) as db:
        tables = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'profiles'"
        ).fetchall()
        columns = [row[1] for row in db.execute("PRAGMA table_info(profiles)")]
        mode = db.execute("PRAGMA journal_mode").fetchone()
    assert tables == [("profiles",)]
    assert columns == ["id", "email", "customer_id", "price_id", "has_access"]
    assert mode == ("wal",)


def test_create_twice_keeps_the_rows(store: SQLiteProfiles, path: Path) -> None:
    """create() on an existing store changes nothing, so restarting the service keeps profiles."""
    store.put(ADA)
    SQLiteProfiles(path).create()
    assert SQLiteProfiles(path).get(ADA.id) == ADA


def test_get_unknown_is_none(store: SQLiteProfiles) -> None:
    """get() of a user without a row is None."""
    store.put(ADA)
    assert store.get("user-nobody") is None


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(ADA, id="complete"),
        pytest.param(Profile("user-new"), id="only-id"),
        pytest.param(Profile("user-lapsed", customer_id="cus_9", has_access=False), id="no-access"),
    ],
)
def test_put_get_round_trip(store: SQLiteProfiles, path: Path, profile: Profile) -> None:
    """A profile put is read back equal, by the same store and by a fresh one on the same file."""
    store.put(profile)
    assert store.get(profile.id) == profile
    assert SQLiteProfiles(path).get(profile.id) == profile


def test_put_replaces_the_whole_row(store: SQLiteProfiles) -> None:
    """put() of an existing id replaces every column."""
    store.put(ADA)
    replacement = Profile(ADA.id, email="new@example.com")
    store.put(replacement)
    assert store.get(ADA.id) == replacement


def test_from_url_absolute_path(tmp_path: Path) -> None:
    """`sqlite:////abs/path` names an absolute file."""
    store = SQLiteProfiles.from_url(f"sqlite:///{tmp_path}/abs/profiles.sqlite3")
    store.create()
    store.put(ADA)
    assert (tmp_path / "abs" / "profiles.sqlite3").is_file()
    assert SQLiteProfiles(tmp_path / "abs" / "profiles.sqlite3").get(ADA.id) == ADA


def test_from_url_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sqlite:///rel/path` names a file relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    store = SQLiteProfiles.from_url("sqlite:///var/profiles.sqlite3")
    store.create()
    store.put(ADA)
    assert SQLiteProfiles(tmp_path / "var" / "profiles.sqlite3").get(ADA.id) == ADA


def test_in_memory_store() -> None:
    """`sqlite:///:memory:` works within one thread, without touching the file system."""
    store = SQLiteProfiles.from_url("sqlite:///:memory:")
    store.create()
    store.put(ADA)
    store.ping()
    assert store.get(ADA.id) == ADA


def test_ping_ok(store: SQLiteProfiles) -> None:
    """ping() passes on a created store, empty or not."""
    store.ping()
    store.put(ADA)
    store.ping()


def test_ping_without_table_is_store_error(path: Path) -> None:
    """ping() on a file without the `profiles` table raises StoreError."""
    path.parent.mkdir(parents=True)
    with pytest.raises(StoreError) as info:
        SQLiteProfiles(path).ping()
    assert str(info.value) == "profile store unavailable: OperationalError"
    assert type(info.value.__cause__) is sqlite3.OperationalError


def directory(tmp_path: Path) -> Path:
    """A directory where the database file should be."""
    path = tmp_path / "profiles.sqlite3"
    path.mkdir()
    return path


def not_a_database(tmp_path: Path) -> Path:
    """A regular file that is not a SQLite database."""
    path = tmp_path / "profiles.sqlite3"
    path.write_bytes(b"this is not a database\n" * 200)
    return path


def under_a_file(tmp_path: Path) -> Path:
    """A path whose parent folder is a regular file."""
    parent = tmp_path / "file"
    parent.write_text("x")
    return parent / "profiles.sqlite3"


@pytest.mark.parametrize(
    ("unusable", "call", "message", "cause"),
    [
        pytest.param(
            directory,
            lambda s: s.ping(),
            "cannot open profile store: OperationalError",
            sqlite3.OperationalError,
            id="directory-ping",
        ),
        pytest.param(
            directory,
            lambda s: s.get("user-ada"),
            "cannot open profile store: OperationalError",
            sqlite3.OperationalError,
            id="directory-get",
        ),
        pytest.param(
            directory,
            lambda s: s.put(ADA),
            "cannot open profile store: OperationalError",
            sqlite3.OperationalError,
            id="directory-put",
        ),
        pytest.param(
            under_a_file,
            lambda s: s.ping(),
            "cannot open profile store: OperationalError",
            sqlite3.OperationalError,
            id="under-a-file-ping",
        ),
        pytest.param(
            under_a_file,
            lambda s: s.get("user-ada"),
            "cannot open profile store: OperationalError",
            sqlite3.OperationalError,
            id="under-a-file-get",
        ),
        pytest.param(
            not_a_database,
            lambda s: s.ping(),
            "profile store unavailable: DatabaseError",
            sqlite3.DatabaseError,
            id="not-a-database-ping",
        ),
        pytest.param(
            not_a_database,
            lambda s: s.get("user-ada"),
            "profile read failed: DatabaseError",
            sqlite3.DatabaseError,
            id="not-a-database-get",
        ),
        pytest.param(
            not_a_database,
            lambda s: s.put(ADA),
            "profile write failed: DatabaseError",
            sqlite3.DatabaseError,
            id="not-a-database-put",
        ),
        pytest.param(
            not_a_database,
            lambda s: s.apply(ProfileUpdate("evt_1", 1, user_id="user-ada")),
            "profile update failed: DatabaseError",
            sqlite3.DatabaseError,
            id="not-a-database-apply",
        ),
        pytest.param(
            not_a_database,
            lambda s: s.forget_customer("user-ada", "cus_1"),
            "profile update failed: DatabaseError",
            sqlite3.DatabaseError,
            id="not-a-database-forget",
        ),
    ],
)
def test_unusable_path_is_store_error(
    tmp_path: Path,
    unusable: Callable[[Path], Path],
    call: Callable[[SQLiteProfiles], object],
    message: str,
    cause: type[sqlite3.Error],
) -> None:
    """Every call on an unusable file raises StoreError, with the sqlite3 error only as its cause."""
    store = SQLiteProfiles(unusable(tmp_path))
    with pytest.raises(StoreError) as info:
        call(store)
    assert str(info.value) == message
    assert type(info.value.__cause__) is cause


def test_failed_open_is_retried_on_the_next_call(tmp_path: Path) -> None:
    """A store that could not open its file works once the file can be made, without a restart."""
    path = under_a_file(tmp_path)
    store = SQLiteProfiles(path)
    with pytest.raises(StoreError):
        store.ping()
    path.parent.unlink()
    store.create()
    store.put(ADA)
    assert store.get(ADA.id) == ADA


def test_reads_from_several_threads_at_once(store: SQLiteProfiles) -> None:
    """Eight threads reading at the same moment each get every profile right."""
    profiles = [Profile(f"user-{n}", email=f"u{n}@example.com", customer_id=f"cus_{n}") for n in range(20)]
    for profile in profiles:
        store.put(profile)
    threads = 8
    barrier = threading.Barrier(threads, timeout=5)

    def read_all() -> tuple[int, list[Profile | None]]:
        """This thread's id and every profile, read once all threads are ready."""
        barrier.wait()
        return threading.get_ident(), [store.get(profile.id) for profile in profiles]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = [future.result() for future in [pool.submit(read_all) for _ in range(threads)]]
    assert len({ident for ident, _ in results}) == threads
    assert [found for _, found in results] == [profiles] * threads


def test_write_in_one_thread_is_seen_by_another(store: SQLiteProfiles) -> None:
    """A profile put from one thread is read by a thread whose connection was opened before the write."""
    before = threading.Event()
    written = threading.Event()

    def reader() -> tuple[Profile | None, Profile | None]:
        """The profile before the write, then after it, on one connection."""
        first = store.get(ADA.id)
        before.set()
        assert written.wait(5)
        return first, store.get(ADA.id)

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(reader)
        assert before.wait(5)
        store.put(ADA)
        written.set()
        assert future.result() == (None, ADA)


def test_a_replaced_file_is_noticed_by_an_open_connection(store: SQLiteProfiles, path: Path) -> None:
    """Replacing the file with a folder makes get() and ping() fail, and putting it back recovers."""
    store.put(Profile("u1", "a@example.com", "cus_1"))
    assert store.get("u1") is not None
    moved = path.with_name("moved.sqlite3")
    path.rename(moved)
    path.mkdir()

    with pytest.raises(StoreError):
        store.get("u1")
    with pytest.raises(StoreError):
        store.ping()

    path.rmdir()
    moved.rename(path)
    assert store.get("u1") == Profile("u1", "a@example.com", "cus_1")


def test_after_a_ping_a_write_waits_on_a_lock_as_long_as_before(store: SQLiteProfiles, path: Path) -> None:
    """ping() waits 1.5 s at most on a lock, then puts back the store's 5 s: a 2.5 s lock is waited out."""
    store.ping()
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(2.5, locker.commit)
    release.start()
    try:
        store.put(ADA)
    finally:
        release.join()
        locker.close()
    assert store.get(ADA.id) == ADA


def test_a_memory_store_stays_in_memory_beside_a_file_named_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file called ":memory:" in the working directory, there before or made after, is neither opened nor
    watched: the data stays."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ":memory:").write_bytes(b"")
    store = SQLiteProfiles(":memory:")
    store.create()
    store.put(ADA)
    (tmp_path / ":memory:").unlink()
    assert store.get(ADA.id) == ADA
    (tmp_path / ":memory:").write_bytes(b"")
    assert store.get(ADA.id) == ADA
    assert (tmp_path / ":memory:").read_bytes() == b""


def test_a_thread_opens_the_file_once_with_the_stores_lock_timeout(
    store: SQLiteProfiles, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many calls on one thread share one connection, opened in autocommit with the 5 s default wait."""
    opened: list[tuple[str, dict[str, object]]] = []
    connect = sqlite3.connect

    def counting(database: str, **options: object) -> sqlite3.Connection:
        opened.append((database, options))
        return connect(database, **options)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(sqlite3, "connect", counting)
    fresh = SQLiteProfiles(path)
    fresh.put(ADA)
    for _ in range(3):
        assert fresh.get(ADA.id) == ADA
    fresh.ping()

    assert opened == [(str(path), {"timeout": 5.0, "isolation_level": None})]


def test_create_on_an_unusable_path_says_where(tmp_path: Path) -> None:
    """create() names the path it could not make, with the system's reason."""
    path = under_a_file(tmp_path)
    with pytest.raises(StoreError) as info:
        SQLiteProfiles(path).create()
    assert (
        str(info.value) == f"cannot create profile store at {path}: [Errno 17] File exists: '{path.parent}'"
    )
