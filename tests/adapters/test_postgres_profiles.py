"""handlers.adapters.postgres_profiles: what is checked before any connection (tests/e2e has the server's)."""

from __future__ import annotations

import pytest

from handlers.adapters.postgres_profiles import PostgresProfiles
from handlers.ports import StoreError

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
