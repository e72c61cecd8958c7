"""Throwaway PostgreSQL servers for the tests: their own data directory, a free port, always stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.helpers.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted((ROOT / "supabase" / "migrations").glob("*.sql"))
SUPABASE_BOOTSTRAP = ROOT / "tests" / "postgrest" / "supabase_bootstrap.sql"
SUPABASE_ROLES = ("supabase_admin", "postgres", "authenticator")


def bin_dir() -> Path:
    """Where the server binaries are: `pg_config --bindir`, which Debian keeps off PATH."""
    found = shutil.which("pg_config")
    if found is None:
        raise RuntimeError("PostgreSQL is not installed (pg_config missing); scripts/test installs it")
    out = subprocess.run([found, "--bindir"], check=True, capture_output=True, text=True, timeout=10)
    return Path(out.stdout.strip())


def _as_owner(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; run them as the `postgres` user there.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass(frozen=True)
class SupabaseDatabase:
    """A cluster prepared as a Supabase project's database, and a URL for each role the tests use."""

    admin_url: str  # supabase_admin, the superuser: resets tables and adds auth users
    postgres_url: str  # postgres, not a superuser: what a project's DATABASE_URL names
    authenticator_url: str  # what PostgREST connects as


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server with the migrations applied, yield its URL, and always stop and delete it."""
    with _cluster("postgres") as port:
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _apply(url, MIGRATIONS)
        yield url


@contextmanager
def supabase_server() -> Iterator[SupabaseDatabase]:
    """Start a server prepared as Supabase prepares one, with the migrations applied as `postgres`."""
    with _cluster("supabase_admin") as port:
        database = SupabaseDatabase(
            *(f"postgresql://{role}@127.0.0.1:{port}/postgres" for role in SUPABASE_ROLES)
        )
        _apply(database.admin_url, [SUPABASE_BOOTSTRAP])
        _apply(database.postgres_url, MIGRATIONS)
        yield database


@contextmanager
def database_copy(url: str) -> Iterator[str]:
    """A new database on `url`'s server, copied from `url`'s database; yields its URL, always dropped."""
    server, template = url.rsplit("/", 1)
    name = f"billing_{uuid.uuid4().hex[:12]}"
    # CREATE DATABASE needs its template free of other sessions: issue it from template1.
    with psycopg.connect(f"{server}/template1", autocommit=True, connect_timeout=10) as db:
        db.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/template1", autocommit=True, connect_timeout=10) as db:
            db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _apply(url: str, scripts: list[Path]) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as db:
        for script in scripts:
            db.execute(script.read_text())


@contextmanager
def _cluster(superuser: str) -> Iterator[int]:
    """A new cluster whose bootstrap superuser is `superuser`, trusted on loopback; yields its port."""
    binaries = bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="billing-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = free_port()
    subprocess.run(
        _as_owner([str(binaries / "initdb"), "-D", str(data), "-U", superuser, "-A", "trust", "--no-sync"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    pg_ctl = str(binaries / "pg_ctl")
    subprocess.run(
        _as_owner([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield port
    finally:
        subprocess.run(
            _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)
