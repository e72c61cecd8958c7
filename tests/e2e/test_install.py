"""The production install as an operator makes it: a clean venv, `pip install '.[uvicorn]'`, the README.

Each test builds a fresh virtual environment through the package index (pip's cache makes a second run
quicker); both take a minute or so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import requests

from tests.helpers.hosts import ROOT, clean_env, free_port, local, readme_commands, running

DEV_ONLY = ("pytest", "ruff", "mypy", "responses", "schemathesis", "playwright")
INSTALL_SECONDS = 900


def installed(venv: Path) -> set[str]:
    """The distribution names installed in `venv`, lower-case."""
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {line.split("==")[0].lower() for line in listed.stdout.splitlines() if "==" in line}


def test_pip_install_with_the_uvicorn_extra_serves_with_the_readmes_command(tmp_path: Path) -> None:
    """A clean venv with only `pip install '.[uvicorn]'` has no test tools and serves the API with uvicorn."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", ".[uvicorn]"],
        cwd=ROOT,
        check=True,
        timeout=INSTALL_SECONDS,
    )
    packages = installed(venv)
    port = free_port()
    command = local(readme_commands()["uvicorn"], port, venv / "bin")

    # Outside the checkout, so the installed package (its packaged schemas too) is what runs.
    with running(command, tmp_path / "run", port, clean_env()) as server:
        empty = requests.post(f"{server.url}/api/stripe/create-checkout", json={}, timeout=10)
        health = requests.get(f"{server.url}/healthz", timeout=10)

    assert {"billing-handlers", "uvicorn", "hypercorn"} <= packages
    assert not packages & set(DEV_ONLY)
    assert (empty.status_code, empty.json()) == (400, {"error": "Price ID is required"})
    assert (health.status_code, health.json()) == (200, {"status": "ok", "profiles": "ok"})


def test_scripts_serve_installs_only_what_serving_needs(tmp_path: Path) -> None:
    """scripts/serve in a fresh copy of the checkout makes a venv without test tools and serves from it."""
    copy = tmp_path / "checkout"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in tracked)):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    port = free_port()
    env = clean_env(HOST="127.0.0.1", PORT=str(port), PYTHON=sys.executable)

    with running([str(copy / "scripts" / "serve")], copy, port, env, up_seconds=INSTALL_SECONDS) as server:
        health = requests.get(f"{server.url}/healthz", headers={"X-Request-Id": "serve-1"}, timeout=10)
        log = server.log_with("[serve-1] GET /healthz")

    assert health.status_code == 200
    assert not installed(copy / ".venv") & set(DEV_ONLY)
    assert "INFO handlers.access [serve-1] GET /healthz 200" in log
