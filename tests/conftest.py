"""Fixtures shared by several test modules: the throwaway PostgreSQL servers, the service's logger."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.helpers.postgres import SupabaseDatabase


# A running server's URL, whose database has the migrations applied (scripts/with_postgres.py).
SHARED_POSTGRES = "TEST_POSTGRES_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--no-servers`: start no PostgreSQL server (mutation testing runs each mutant in-process)."""
    parser.addoption(
        "--no-servers",
        action="store_true",
        help="skip the tests that need a throwaway PostgreSQL server, unless TEST_POSTGRES_URL names one",
    )


def _servers_allowed(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--no-servers"):
        pytest.skip("needs a PostgreSQL server (--no-servers)")


@pytest.fixture(name="postgres_url", scope="session")
def _postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database with the migrations applied, on a server started for this test run.

    With TEST_POSTGRES_URL set (scripts/mutate sets it), on that server instead: a copy of its database,
    so that test runs sharing the server never see each other's rows.
    """
    # Imported here: psycopg is not there when the handler tests run inside Pyodide.
    from tests.helpers.postgres import database_copy, postgres_server

    shared = os.environ.get(SHARED_POSTGRES)
    if shared:
        with database_copy(shared) as url:
            yield url
        return
    _servers_allowed(request)
    with postgres_server() as url:
        yield url


@pytest.fixture(name="supabase_database", scope="session")
def _supabase_database(request: pytest.FixtureRequest) -> Iterator[SupabaseDatabase]:
    """A second server prepared as a Supabase project's database, with the migrations applied as postgres."""
    _servers_allowed(request)
    from tests.helpers.postgres import supabase_server

    with supabase_server() as database:
        yield database


@pytest.fixture(autouse=True)
def _restore_the_service_loggers() -> Iterator[None]:
    """create_app gives our loggers a handler of their own and stops propagation: undo it after."""
    loggers = [logging.getLogger(name) for name in ("handlers", "psycopg")]
    kept = [(list(logger.handlers), logger.propagate, logger.level) for logger in loggers]
    yield
    for logger, (handlers, propagate, level) in zip(loggers, kept, strict=True):
        logger.handlers[:], logger.propagate, logger.level = handlers, propagate, level
