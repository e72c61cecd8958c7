"""handlers.app: which profile store and which signing keys the settings select."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.adapters.jwks_keys import JWKSKeys, KeyChain
from handlers.adapters.postgres_profiles import PostgresProfiles
from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.adapters.supabase_profiles import SupabaseProfiles
from handlers.app import build_router, create_app
from handlers.session import HS256Keys
from handlers.settings import Settings


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        pytest.param(
            {"DATABASE_URL": "postgresql://billing:pw@127.0.0.1:1/app"}, PostgresProfiles, id="postgresql"
        ),
        pytest.param({"DATABASE_URL": "postgres://billing@127.0.0.1:1/app"}, PostgresProfiles, id="postgres"),
        pytest.param(
            {
                "DATABASE_URL": "supabase",
                "SUPABASE_URL": "https://abcd.supabase.co",
                "SUPABASE_ANON_KEY": "anon",
                "SUPABASE_SERVICE_ROLE_KEY": "service",
            },
            SupabaseProfiles,
            id="supabase",
        ),
    ],
)
def test_database_url_selects_the_store_without_io(environ: dict[str, str], kind: type) -> None:
    """postgresql:// and supabase build their stores without connecting (port 1 is closed)."""
    router = build_router(Settings.from_env(environ))
    assert isinstance(router.deps.profiles, kind)


def test_sqlite_stays_the_default(tmp_path: Path) -> None:
    """A sqlite:/// URL builds and creates the SQLite store, as before."""
    router = build_router(Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3"}))
    assert isinstance(router.deps.profiles, SQLiteProfiles)
    assert (tmp_path / "p.sqlite3").exists()


def test_supabase_url_adds_the_jwks_beside_the_secret() -> None:
    """With SUPABASE_URL and a secret, HS256 and JWKS keys are both used."""
    router = build_router(
        Settings.from_env({"SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_JWT_SECRET": "s"})
    )
    keys = router.deps.sessions._keys
    assert isinstance(keys, KeyChain)
    assert isinstance(keys._hs256, HS256Keys)
    assert isinstance(keys._jwks, JWKSKeys)
    assert keys._jwks.url == "https://abcd.supabase.co/auth/v1/.well-known/jwks.json"


def test_supabase_store_without_its_keys_stops_start_up() -> None:
    """DATABASE_URL=supabase without the service key stops start-up naming the variable."""
    with pytest.raises(SystemExit) as info:
        create_app(
            {"DATABASE_URL": "supabase", "SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_ANON_KEY": "a"}
        )
    assert info.value.code == "configuration error: DATABASE_URL=supabase needs SUPABASE_SERVICE_ROLE_KEY"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://postgres:Xy7%zz-secret@127.0.0.1:1/postgres", id="bad-percent-escape"),
        pytest.param("postgresql://postgres:s3cr3t/x@db.example.com/app", id="unencoded-slash"),
    ],
)
def test_unreadable_postgres_url_stops_start_up_without_echoing_it(url: str) -> None:
    """A DATABASE_URL libpq cannot read stops start-up with a message that quotes none of it."""
    with pytest.raises(SystemExit) as stopped:
        create_app({"DATABASE_URL": url})
    message = str(stopped.value)
    assert message.startswith("configuration error: DATABASE_URL is not a PostgreSQL URL libpq can read")
    assert "secret" not in message and "s3cr3t" not in message
