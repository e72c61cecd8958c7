"""Fixtures shared by several test modules: the throwaway PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(name="postgres_url", scope="session")
def _postgres_url() -> Iterator[str]:
    """The URL of a PostgreSQL server started for this test run, with the migrations applied."""
    # Imported here: psycopg is not there when the handler tests run inside Pyodide.
    from tests.helpers.postgres import postgres_server

    with postgres_server() as url:
        yield url
