"""End-to-end tests: real servers and real components (browser, PostgreSQL, PostgREST, runtimes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.postgres import SupabaseDatabase
from tests.helpers.postgrest import Gateway, SupabaseProject, api_key, postgrest
from tests.helpers.servers import StripeEmulator


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder `e2e`, so `-m "not e2e"` gives the fast loop."""
    for item in items:
        if "/tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(name="emulator", scope="module")
def _emulator() -> Iterator[StripeEmulator]:
    """A local Stripe emulator for the module's tests (scripts/stripe_emulator.py)."""
    with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture(name="project", scope="session")
def _project(
    supabase_database: SupabaseDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SupabaseProject]:
    """A local project's REST side: real PostgREST on the Supabase-shaped database, behind a gateway."""
    with (
        postgrest(supabase_database.authenticator_url, tmp_path_factory.mktemp("postgrest")) as rest,
        Gateway(rest) as gateway,
    ):
        yield SupabaseProject(gateway.url, api_key("anon"), api_key("service_role"), supabase_database)
