"""handlers.adapters.postgres_profiles: what only the PostgreSQL store does (pool, failures, migration)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from handlers.adapters.postgres_profiles import PostgresProfiles
from handlers.ports import Profile, ProfileUpdate, StoreError
from tests.helpers.postgres import MIGRATIONS, SupabaseDatabase
from tests.helpers.stores import reset_supabase

# Only PostgreSQL besides the code: scripts/mutate runs these against its one server.
pytestmark = pytest.mark.postgres

ADA = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_construction_does_no_io() -> None:
    """Building the store with an unreachable URL neither connects nor fails."""
    store = PostgresProfiles(f"postgresql://nobody:pw@127.0.0.1:{closed_port()}/x")
    assert store._pool is None


def test_unreachable_server_is_a_store_error_at_the_pool_timeout_without_the_password() -> None:
    """get() against a closed port gives up when the pool's wait ends (PoolTimeout); no password in it."""
    store = PostgresProfiles(f"postgresql://billing:s3cr3t-pw@127.0.0.1:{closed_port()}/x", connect_timeout=2)
    try:
        with pytest.raises(StoreError) as caught:
            store.get(ADA)
        assert store._connection_pool().timeout == 3  # connect_timeout + 1: the wait is bounded
    finally:
        store.close()
    assert "s3cr3t-pw" not in str(caught.value)
    assert str(caught.value) == "profile read failed: PoolTimeout"


def test_a_user_id_that_is_not_a_uuid_has_no_profile(postgres_url: str) -> None:
    """get() of an id the uuid column cannot hold is None, not an error."""
    store = PostgresProfiles(postgres_url)
    try:
        assert store.get("not-a-uuid") is None
    finally:
        store.close()


def test_an_event_naming_a_non_uuid_user_falls_back_to_the_customer(postgres_url: str) -> None:
    """A client_reference_id that is not a uuid cannot be a profile id; the customer still matches."""
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("TRUNCATE public.profiles, public.stripe_events")
        db.execute("INSERT INTO public.profiles (id, customer_id) VALUES (%s, 'cus_9')", (ADA,))
    store = PostgresProfiles(postgres_url)
    try:
        update = ProfileUpdate("evt_x", 5, user_id="legacy-42", customer_id="cus_9", price_id="p")
        assert store.apply(update) == "applied"
        assert store.get(ADA) == Profile(ADA, None, "cus_9", "p", False)
    finally:
        store.close()


def test_statement_timeout_bounds_a_slow_query(postgres_url: str) -> None:
    """The pool's connections carry the statement timeout, so a stuck query ends in StoreError."""
    store = PostgresProfiles(postgres_url, statement_timeout_ms=200)
    try:
        # pg_sleep(30) would outlast the test's patience: QueryCanceled is the statement timeout ending it.
        with pytest.raises(StoreError, match="QueryCanceled"):
            store._run(lambda db: db.execute("SELECT pg_sleep(30)").fetchall(), "slow")
    finally:
        store.close()


def test_the_migration_runs_twice(postgres_url: str) -> None:
    """Applying the migration again keeps the rows: it is safe to re-run."""
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("TRUNCATE public.profiles, public.stripe_events")
        db.execute("INSERT INTO public.profiles (id, customer_id) VALUES (%s, 'cus_1')", (ADA,))
        for migration in MIGRATIONS:
            db.execute(migration.read_text())
        assert db.execute("SELECT count(*) FROM public.profiles").fetchone() == (1,)


def test_the_migration_runs_twice_on_supabase_as_postgres(supabase_database: SupabaseDatabase) -> None:
    """On Supabase's schema the migration re-runs as postgres, not a superuser, keeping rows and the key."""
    reset_supabase(supabase_database, {ADA: "ada@example.com"})
    with psycopg.connect(supabase_database.postgres_url, autocommit=True) as db:
        db.execute("INSERT INTO public.profiles (id, customer_id) VALUES (%s, 'cus_1')", (ADA,))
        for migration in MIGRATIONS:
            db.execute(migration.read_text())
        assert db.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
        assert db.execute("SELECT id::text, customer_id FROM public.profiles").fetchall() == [(ADA, "cus_1")]
        keys = db.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'profiles_id_fkey'").fetchone()
        assert keys == (1,)


def test_on_supabase_the_api_roles_may_only_read_profiles(supabase_database: SupabaseDatabase) -> None:
    """Supabase's default privileges are cut back: anon and authenticated keep SELECT on profiles only."""
    privileges = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    with psycopg.connect(supabase_database.admin_url, autocommit=True) as db:
        held = {
            role: [
                name
                for name in privileges
                if db.execute(
                    "SELECT has_table_privilege(%s, 'public.profiles', %s)", (role, name)
                ).fetchone()
                == (True,)
            ]
            for role in ("anon", "authenticated")
        }
    assert held == {"anon": ["SELECT"], "authenticated": ["SELECT"]}


def test_on_a_supabase_like_database_only_the_service_role_applies_events(postgres_url: str) -> None:
    """With Supabase's roles and auth schema, anon and authenticated cannot call the function."""
    # A new database each run: the server lives as long as the test session, which may run this twice.
    name = f"supabase_like_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    like = postgres_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(like, autocommit=True) as db:
        db.execute(
            "DO $$ BEGIN"
            " IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN"
            "  CREATE ROLE anon; CREATE ROLE authenticated; CREATE ROLE service_role; END IF; END $$;"
            " CREATE SCHEMA auth; CREATE TABLE auth.users (id uuid PRIMARY KEY);"
            " CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE"
            "  AS $f$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $f$;"
            " GRANT USAGE ON SCHEMA public, auth TO anon, authenticated, service_role;"
            " GRANT EXECUTE ON FUNCTION auth.uid() TO authenticated;"
        )
        for migration in MIGRATIONS:
            db.execute(migration.read_text())
        signature = "public.apply_stripe_event(text, bigint, text, text, text, text, boolean)"
        allowed = {
            role: db.execute("SELECT has_function_privilege(%s, %s, 'execute')", (role, signature)).fetchone()
            for role in ("anon", "authenticated", "service_role")
        }
        assert allowed == {"anon": (False,), "authenticated": (False,), "service_role": (True,)}
        policies = db.execute("SELECT policyname FROM pg_policies WHERE tablename = 'profiles'").fetchall()
        assert policies == [("Users read their own profile",)]
        db.execute("INSERT INTO auth.users (id) VALUES (%s)", (ADA,))
        db.execute("INSERT INTO public.profiles (id, customer_id) VALUES (%s, 'cus_1')", (ADA,))
        db.execute("GRANT SELECT ON public.profiles TO authenticated")
        with db.transaction():
            db.execute("SET LOCAL ROLE authenticated")
            db.execute("SELECT set_config('request.jwt.claim.sub', %s, true)", (ADA,))
            own = db.execute("SELECT customer_id FROM public.profiles").fetchall()
            db.execute("SELECT set_config('request.jwt.claim.sub', gen_random_uuid()::text, true)")
            other = db.execute("SELECT customer_id FROM public.profiles").fetchall()
        assert (own, other) == ([("cus_1",)], [])


def test_the_pool_and_its_connections_are_as_documented(postgres_url: str) -> None:
    """Up to 10 connections, 5 s connect and statement timeouts, no prepared statements (for poolers)."""
    store = PostgresProfiles(postgres_url)
    try:
        seen = store._run(
            lambda db: (
                db.info.get_parameters().get("connect_timeout"),
                db.execute("SHOW statement_timeout").fetchone(),
                db.prepare_threshold,
            ),
            "settings",
        )
        stats = store._connection_pool().get_stats()
    finally:
        store.close()
    assert seen == ("5", ("5s",), None)
    assert (stats["pool_min"], stats["pool_max"]) == (1, 10)


@pytest.fixture(name="tableless_url")
def _tableless_url(postgres_url: str) -> Iterator[str]:
    """A database of the same server that has no profiles table (the migration never ran)."""
    name = f"tableless_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as db:
            db.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(name="tableless")
def _tableless(tableless_url: str) -> Iterator[PostgresProfiles]:
    """A store on that database."""
    store = PostgresProfiles(tableless_url)
    try:
        yield store
    finally:
        store.close()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda s: s.ping(), "profile ping failed: UndefinedTable", id="ping"),
        pytest.param(lambda s: s.get(ADA), "profile read failed: UndefinedTable", id="get"),
        pytest.param(
            lambda s: s.apply(ProfileUpdate("evt_1", 1, user_id=ADA)),
            "profile update failed: UndefinedFunction",
            id="apply",
        ),
        pytest.param(
            lambda s: s.forget_customer(ADA, "cus_1"), "profile update failed: UndefinedTable", id="forget"
        ),
    ],
)
def test_each_call_on_a_database_without_the_migration_is_a_store_error_naming_it(
    tableless: PostgresProfiles, call: Callable[[PostgresProfiles], object], message: str
) -> None:
    """ping (the health check), reads and updates each fail as a StoreError saying which and why."""
    with pytest.raises(StoreError) as failed:
        call(tableless)
    assert str(failed.value) == message


def test_close_twice_is_quiet(postgres_url: str) -> None:
    """A second close() (a shutdown after a failed start) does nothing."""
    store = PostgresProfiles(postgres_url)
    store.ping()
    store.close()
    store.close()


def test_an_outcome_the_store_does_not_know_is_a_store_error(
    tableless_url: str, tableless: PostgresProfiles
) -> None:
    """A database function answering anything but the known outcomes (an older migration) is refused."""
    with psycopg.connect(tableless_url, autocommit=True) as db:
        db.execute(
            "CREATE FUNCTION public.apply_stripe_event(text, bigint, text, text, text, text, boolean)"
            " RETURNS text LANGUAGE sql AS $$ SELECT 'done' $$"
        )
    with pytest.raises(StoreError) as refused:
        tableless.apply(ProfileUpdate("evt_1", 1, user_id=ADA))
    assert str(refused.value) == "profile update gave an unknown outcome 'done'"
