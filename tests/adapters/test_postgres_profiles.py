"""handlers.adapters.postgres_profiles: what is checked before any connection, and the health check's
bounds on a server (tests/e2e has the rest of the server's)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest

from handlers.adapters.postgres_profiles import PostgresProfiles
from handlers.ports import StoreError

ADA = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"

UNREADABLE = (
    "DATABASE_URL is not a PostgreSQL URL libpq can read: percent-encode special characters"
    " in the user name and password"
)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://billing:pw@db.example.com/app", id="default-port"),
        pytest.param("postgresql://billing:pw@db.example.com:6543/app", id="port"),
        pytest.param("postgresql://billing@primary:5432,standby:5433/app", id="several-hosts"),
        pytest.param("postgres://billing:p%2Fw%40rd@db.example.com/app", id="encoded-password"),
    ],
)
def test_a_url_libpq_reads_builds_a_store_without_connecting(url: str) -> None:
    """With or without a port, one host or several: accepted, and nothing connects yet."""
    store = PostgresProfiles(url)
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://billing:s3cr3t/x@db.example.com/app", id="unencoded-slash"),
        pytest.param("postgresql://billing:Xy7%zz-s3cr3t@db.example.com/app", id="bad-percent-escape"),
        pytest.param("postgresql://billing:s3cr3t@db.example.com:5432,x/app", id="port-not-a-number"),
    ],
)
def test_a_url_libpq_cannot_read_is_refused_naming_none_of_it(url: str) -> None:
    """The error says what to do and quotes no part of the URL, which may hold the password."""
    with pytest.raises(StoreError) as refused:
        PostgresProfiles(url)
    assert str(refused.value) == UNREADABLE


@contextmanager
def locked_profiles(url: str) -> Iterator[None]:
    """The profiles table locked by another session for the block (at most 10 s, should a wait never end)."""
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE public.profiles IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(10, locker.rollback)
        release.start()
        try:
            yield
        finally:
            release.cancel()
            release.join()
            locker.rollback()


def wait_for_a_query_on_the_lock(url: str) -> None:
    """Return once a session waits on a lock; fail after 10 s."""
    with psycopg.connect(url, autocommit=True) as db:
        for _ in range(200):
            row = db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ).fetchone()
            if row != (0,):
                return
            time.sleep(0.05)
    pytest.fail("no session waited on the lock")


@pytest.mark.e2e
@pytest.mark.postgres
def test_a_ping_on_a_locked_table_gives_up_after_a_second_and_a_half(postgres_url: str) -> None:
    """The health check's own statement timeout, shorter than the store's: cancelled, not left waiting."""
    store = PostgresProfiles(postgres_url, statement_timeout_ms=60000)
    try:
        with locked_profiles(postgres_url), pytest.raises(StoreError) as caught:
            store.ping()
    finally:
        store.close()
    assert str(caught.value) == "profile ping failed: QueryCanceled"


@pytest.mark.e2e
@pytest.mark.postgres
def test_a_ping_waits_for_a_pooled_connection_a_second_and_a_half_not_the_pools_wait(
    postgres_url: str,
) -> None:
    """With the one pooled connection busy, ping gives up after 1.5 s although the pool would wait 61 s."""
    store = PostgresProfiles(
        postgres_url, min_size=1, max_size=1, connect_timeout=60, statement_timeout_ms=60000
    )
    try:
        with locked_profiles(postgres_url):
            with ThreadPoolExecutor(max_workers=1) as pool:
                busy = pool.submit(store.get, ADA)
                wait_for_a_query_on_the_lock(postgres_url)
                with pytest.raises(StoreError) as caught:
                    store.ping()
        busy.result()  # the read itself ends once the lock goes
    finally:
        store.close()
    assert str(caught.value) == "profile ping failed: PoolTimeout"
