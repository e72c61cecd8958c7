"""Options of the contract suite, the deployment it runs against, and its summary of violations.

This suite speaks only HTTP; it never imports the service's code.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import pytest
import requests

from contract_tests.checks import ContractViolation
from contract_tests.deployment import CHECKOUT, NEEDS_BASE_URL, Target, local_service, new_run_id
from contract_tests.options import OPTIONS

VIOLATIONS = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract", "billing API contract suite")
    for option in OPTIONS:
        group.addoption(option.flag, **option.arguments(os.environ))


def pytest_configure(config: pytest.Config) -> None:
    config.stash[VIOLATIONS] = []


def pytest_collection_modifyitems(config: pytest.Config) -> None:
    if not config.getoption("--base-url") and not CHECKOUT:
        # Every case would fail alike; one line says what is missing instead. Not a UsageError from
        # pytest_configure: under --pyargs this conftest loads while collecting, and that prints a traceback.
        pytest.exit(NEEDS_BASE_URL, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(name="target", scope="session")
def _target(request: pytest.FixtureRequest) -> Iterator[Target]:
    option = request.config.getoption
    run_id = os.environ.get("CONTRACT_RUN_ID") or new_run_id()
    base_url = option("--base-url")
    if not base_url:
        with local_service(run_id) as local:
            yield local
        return
    yield Target(
        base_url=base_url.rstrip("/"),
        run_id=run_id,
        jwt_secret=option("--jwt-secret"),
        supabase_url=option("--supabase-url"),
        access_token=option("--access-token"),
        no_billing_access_token=option("--no-billing-access-token"),
        price_id=option("--price-id"),
        price_mode=option("--price-mode"),
        offline_stripe=option("--offline-stripe"),
    )


@pytest.fixture(name="http", scope="session")
def _http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        # A fresh connection per case: a kept-alive one the server (or a proxy) closed while idle between
        # two slow cases fails the next case with "connection aborted", which is no contract violation.
        session.headers["Connection"] = "close"
        yield session


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    violation = call.excinfo.value if call.excinfo is not None else None
    if report.failed and isinstance(violation, ContractViolation):
        item.config.stash[VIOLATIONS].append(str(violation))
        # The case, expected and actual say it all; a traceback of the suite's own code would not help.
        report.longrepr = str(violation)
        report.violation = violation.line  # type: ignore[attr-defined]  # read by billing-contract
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    violations = config.stash[VIOLATIONS]
    if violations:
        terminalreporter.section(f"contract violations: {len(violations)}", red=True)
        for text in violations:
            terminalreporter.write_line(text)
