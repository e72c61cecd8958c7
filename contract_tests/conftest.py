"""Options of the contract suite, the deployment it runs against, and its summary of violations.

This suite speaks only HTTP; it never imports the service's code.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import pytest
import requests

from contract_tests.checks import ContractViolation
from contract_tests.deployment import Target, local_service, new_run_id

VIOLATIONS = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract", "billing API contract suite")
    env = os.environ.get
    group.addoption(
        "--base-url",
        default=env("CONTRACT_BASE_URL"),
        help="run against this deployment (default: start the service locally) [CONTRACT_BASE_URL]",
    )
    group.addoption(
        "--access-token",
        default=env("CONTRACT_ACCESS_TOKEN"),
        help="access token of a signed-in user who has a billing account [CONTRACT_ACCESS_TOKEN]",
    )
    group.addoption(
        "--no-billing-access-token",
        default=env("CONTRACT_NO_BILLING_ACCESS_TOKEN"),
        help="access token of a signed-in user without a billing account [CONTRACT_NO_BILLING_ACCESS_TOKEN]",
    )
    group.addoption(
        "--jwt-secret",
        default=env("CONTRACT_JWT_SECRET"),
        help="the deployment's HS256 SUPABASE_JWT_SECRET, to mint tokens [CONTRACT_JWT_SECRET]",
    )
    group.addoption(
        "--supabase-url",
        default=env("CONTRACT_SUPABASE_URL"),
        help="the deployment's SUPABASE_URL: token issuer and cookie name [CONTRACT_SUPABASE_URL]",
    )
    group.addoption(
        "--price-id",
        default=env("CONTRACT_PRICE_ID"),
        help="a test-mode Stripe price of the deployment, for the success cases [CONTRACT_PRICE_ID]",
    )
    group.addoption(
        "--price-mode",
        default=env("CONTRACT_PRICE_MODE", "payment"),
        choices=("payment", "subscription"),
        help="payment for a one-time price, subscription for a recurring one [CONTRACT_PRICE_MODE]",
    )
    group.addoption(
        "--offline-stripe",
        action="store_true",
        default=env("CONTRACT_OFFLINE_STRIPE", "") not in ("", "0"),
        help="the deployment uses the offline Stripe stand-in (accepts any price) [CONTRACT_OFFLINE_STRIPE]",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[VIOLATIONS] = []


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
        yield session


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(ContractViolation):
        item.config.stash[VIOLATIONS].append(str(call.excinfo.value))
        # The case, expected and actual say it all; a traceback of the suite's own code would not help.
        report.longrepr = str(call.excinfo.value)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    violations = config.stash[VIOLATIONS]
    if violations:
        terminalreporter.section(f"contract violations: {len(violations)}", red=True)
        for text in violations:
            terminalreporter.write_line(text)
