"""`billing-contract` as QA installs it: the wheel with its `contract` extra in a clean venv, elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contract_tests.cases import load_cases
from contract_tests.deployment import ROOT, Target, free_port, local_service
from tests.helpers.broken_server import proxy

sys.path.insert(0, str(ROOT / "scripts"))
from stripe_emulator import StripeEmulator

WEBHOOK_CASES = 2  # contract_tests/test_webhook.py: unsigned, forged
ALL_CASES = len(load_cases()) + WEBHOOK_CASES
NEEDS_BASE_URL = (
    "billing-contract: needs --base-url URL (or CONTRACT_BASE_URL): the origin of the deployment to check, "
    "e.g. https://staging.example.com (only a checkout of billing-handlers can start the service itself)"
)


@dataclass(frozen=True)
class Installed:
    """A clean venv with the wheel and its `contract` extra, and a folder outside the repo to run in."""

    wheel: Path
    venv: Path
    outside: Path

    def run(self, *args: str, command: str = "billing-contract") -> subprocess.CompletedProcess[str]:
        """Run a command of the venv in the outside folder, with no CONTRACT_* variable from this shell."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("CONTRACT_")}
        env.pop("PYTHONPATH", None)
        return subprocess.run(
            [str(self.venv / "bin" / command), *args],
            cwd=self.outside,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(name="installed", scope="module")
def _installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    folder = tmp_path_factory.mktemp("billing-contract")
    dist = folder / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT)],
        folder,
    )
    (wheel,) = dist.glob("billing_handlers-*.whl")
    venv = folder / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], folder)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[contract]"], folder)
    outside = folder / "qa"
    outside.mkdir()
    return Installed(wheel, venv, outside)


@pytest.fixture(name="service", scope="module")
def _service() -> Iterator[Target]:
    with StripeEmulator() as emulator, local_service(stripe_api_base=emulator.url) as target:
        yield target


def options(target: Target, base_url: str | None = None) -> list[str]:
    """Every option the README documents, as QA would pass them for this deployment.

    Written `--name=value`: a generated secret may start with "-", which argparse would take for an option.
    """
    values = {
        "--base-url": base_url or target.base_url,
        "--jwt-secret": target.jwt_secret or "",
        "--supabase-url": target.supabase_url or "",
        "--access-token": target.access_token or "",
        "--price-id": target.price_id or "",
        "--price-mode": "payment",
    }
    return [f"{name}={value}" for name, value in values.items()]


def test_the_wheel_carries_the_suite_its_cases_and_schemas(installed: Installed) -> None:
    """contract_tests, cases.json, a copy of every schema file and the console script are in the wheel."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert {"contract_tests/cli.py", "contract_tests/conftest.py", "contract_tests/cases.json"} <= names
    schemas = {f"contract_tests/_schemas/{path.name}" for path in (ROOT / "schemas").glob("*.json")}
    assert schemas <= names
    assert not any(name.startswith("contract_tests/frontend") for name in names)
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "billing-contract = contract_tests.cli:main" in text


def test_every_case_passes_against_a_local_service(installed: Installed, service: Target) -> None:
    """Exit 0, no violation line, the counts in the summary, and a JUnit report with every case."""
    result = installed.run(*options(service), "--junitxml", "contract-report.xml")

    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    summary = f"{ALL_CASES} passed, 0 failed, 0 skipped against {service.base_url}"
    assert result.stdout.splitlines() == [f"billing-contract: {summary}; JUnit XML in contract-report.xml"]
    suite = ET.parse(installed.outside / "contract-report.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "billing-contract",
        str(ALL_CASES),
        "0",
    )
    assert (suite.get("errors"), suite.get("skipped")) == ("0", "0")


def test_each_violation_is_one_line_and_the_exit_is_non_zero(installed: Installed, service: Target) -> None:
    """Through a proxy that rewords one message, every case expecting it is one FAIL line; exit 1."""
    broken = [
        case.id for case in load_cases() if case.expect.get("body") == {"error": "Price ID is required"}
    ]
    with proxy(service.base_url, "wrong-message") as url:
        result = installed.run(*options(service, url), "--junitxml", "broken.xml")

    assert result.returncode == 1, result.stdout
    *fails, summary = result.stdout.splitlines()
    wrong = 'body: expected {"error": "Price ID is required"}, got {"error": "Price is required"}'
    assert f"FAIL checkout-no-price: POST /api/stripe/create-checkout: {wrong}" in fails
    assert all(line.startswith("FAIL ") for line in fails)
    assert len(fails) >= len(broken)
    passed = ALL_CASES - len(fails)
    counts = f"{passed} passed, {len(fails)} failed, 0 skipped"
    assert summary == f"billing-contract: {counts} against {url}; JUnit XML in broken.xml"
    suite = ET.parse(installed.outside / "broken.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == str(len(fails))


def test_cases_it_cannot_run_are_named_with_the_option_they_need(
    installed: Installed, service: Target
) -> None:
    """With only --base-url, the signed-in and paid cases are skipped, one line per missing option."""
    result = installed.run("--base-url", service.base_url)

    assert result.returncode == 0, result.stdout
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIP ")]
    assert "SKIP portal-200: needs --access-token (a signed-in user who has a billing account)" in skips
    assert any(
        line.endswith(": needs --jwt-secret (mints a correctly signed token with one claim wrong)")
        for line in skips
    )


def test_outside_the_repo_without_a_base_url_it_says_what_it_needs(installed: Installed) -> None:
    """One line on stderr, nothing else, exit 2: there is no service to start beside an installed suite."""
    result = installed.run()

    assert (result.returncode, result.stdout, result.stderr) == (2, "", NEEDS_BASE_URL + "\n")


def test_pytest_on_the_installed_suite_without_a_base_url_says_it_once(installed: Installed) -> None:
    """`pytest --pyargs contract_tests` outside the repo: one line naming --base-url, no traceback."""
    result = installed.run("--pyargs", "contract_tests", "-q", "-p", "no:cacheprovider", command="pytest")

    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    output = result.stdout + result.stderr
    assert [line for line in output.splitlines() if "--base-url" in line] == [
        f"! _pytest.outcomes.Exit: {NEEDS_BASE_URL.removeprefix('billing-contract: ')} !"
    ]
    assert "Traceback" not in output and "\nE " not in output


def test_a_deployment_that_does_not_answer_is_one_line(installed: Installed) -> None:
    """Nothing listening at --base-url: one line naming the address and the reason, exit 2."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = installed.run("--base-url", nowhere)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"billing-contract: cannot reach {nowhere}: Connection refused\n"
