"""The Pyodide job itself, on each runtime: it fails when a handler needs what Pyodide lacks, or a wheel does
not load."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# PyYAML's C binding: importable in CPython here, and no Pyodide wheel of it is loaded.
C_EXTENSION_ONLY = "yaml._yaml"
RUNTIMES = {"node": "Node", "deno": "Deno"}


def run_job(*args: str) -> subprocess.CompletedProcess[str]:
    """scripts/pyodide-test with `args`; the first run installs the runtime and downloads the wheels."""
    return subprocess.run(
        [str(ROOT / "scripts" / "pyodide-test"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )


def wheel_cache() -> Path:
    """Where scripts/pyodide-test keeps the wheels of the current requirements, filled on first use."""
    pinned = (ROOT / "tests" / "pyodide" / "requirements.txt").read_bytes()
    cache = ROOT / ".cache" / "pyodide-wheels" / hashlib.sha256(pinned).hexdigest()[:16]
    if not (cache / ".complete").exists():
        done = run_job("--runtime", "node", "--mode", "coldstart")
        assert done.returncode == 0, done.stdout + done.stderr
    return cache


@pytest.fixture(name="source")
def _source(tmp_path: Path) -> Path:
    """A copy of the project's sources, free to break."""
    skip = shutil.ignore_patterns("__pycache__", "node_modules", "pyodide")
    for folder in ("handlers", "schemas", "tests"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_job_fails_when_a_handler_imports_a_c_extension(source: Path, runtime: str) -> None:
    """A handler that imports a C-extension-only module makes the job fail, naming the module and handler."""
    spec = importlib.util.find_spec(C_EXTENSION_ONLY)
    assert spec is not None and str(spec.origin).endswith(".so")
    untouched = run_job("--runtime", runtime, "--mode", "imports", "--source", str(source))
    assert untouched.returncode == 0, untouched.stdout + untouched.stderr
    checkout = source / "handlers" / "checkout.py"
    checkout.write_text(
        checkout.read_text().replace("import hashlib\n", f"import hashlib\nimport {C_EXTENSION_ONLY}\n", 1)
    )

    done = run_job("--runtime", runtime, "--mode", "imports", "--source", str(source))

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"pyodide job: imports on {RUNTIMES[runtime]} " in done.stdout
    assert f"pyodide-test: {runtime}: FAILED (exit 1)" in done.stdout
    assert "these handler modules do not import here" in done.stderr
    assert "handlers.checkout:" in done.stderr
    assert "ModuleNotFoundError: No module named 'yaml'" in done.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_job_fails_when_a_wheel_does_not_load(source: Path, tmp_path: Path, runtime: str) -> None:
    """A wheel that does not unpack fails the job, naming it, before any Python runs."""
    wheels = tmp_path / "wheels"
    shutil.copytree(wheel_cache(), wheels)
    broken = next(wheels.glob("pyjwt-*.whl"))
    broken.write_bytes(broken.read_bytes()[:1000])

    done = run_job(
        "--runtime", runtime, "--mode", "imports", "--source", str(source), "--wheels", str(wheels)
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"pyodide-test: {runtime}: FAILED (exit 1)" in done.stdout
    assert "loading wheels failed" in done.stderr
    assert "error occurred while loading pyjwt" in done.stderr
    assert "imported" not in done.stdout


def test_job_runs_on_both_runtimes_and_fails_when_one_fails(source: Path) -> None:
    """By default the job runs on Node and on Deno, reports each one's counts, and fails when one fails."""
    (source / "handlers" / "deno_only_break.py").write_text(
        "import js\n\nif hasattr(js, 'Deno'):\n    raise RuntimeError('refuses to import on Deno')\n"
    )

    done = run_job("--source", str(source), "-q", "-k", "test_nesting_depth")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "pyodide job: tests on Node " in done.stdout and "pyodide job: tests on Deno " in done.stdout
    assert re.search(r"^pyodide-test: node: ok, \d+ passed, \d+ deselected in ", done.stdout, re.MULTILINE)
    assert "pyodide-test: deno: FAILED (exit 1)" in done.stdout
    assert "RuntimeError: refuses to import on Deno" in done.stderr
