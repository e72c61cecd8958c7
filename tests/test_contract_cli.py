"""billing-contract's pieces that need no deployment: options, pytest's command line, the report lines."""

from __future__ import annotations

import pytest

from contract_tests.cli import Reporter, parser, pytest_arguments, unreachable

SECRET_ENV = {"CONTRACT_JWT_SECRET": "from-env", "CONTRACT_OFFLINE_STRIPE": "1"}


def test_options_default_to_their_contract_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each documented option reads CONTRACT_<NAME>; a switch set to 0 or empty is off."""
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    args = parser().parse_args(["--base-url", "https://staging.example.com"])
    assert (args.jwt_secret, args.offline_stripe, args.price_mode) == ("from-env", True, "payment")
    monkeypatch.setenv("CONTRACT_OFFLINE_STRIPE", "0")
    assert parser().parse_args([]).offline_stripe is False


def test_pytest_gets_only_the_options_given() -> None:
    """Unset options are left out, a switch is a bare flag, and no project configuration is read."""
    args = parser().parse_args(
        [
            "--base-url",
            "https://s.example.com",
            "--price-id",
            "price_1",
            "--offline-stripe",
            "--junitxml",
            "r.xml",
        ]
    )
    command = pytest_arguments(args)
    assert command[1:5] == ["-c", "/dev/null", "--rootdir", command[4]]
    given = command[command.index("--base-url") :]
    assert given == [
        *("--base-url", "https://s.example.com", "--price-id", "price_1", "--price-mode", "payment"),
        *("--offline-stripe", "--junitxml", "r.xml"),
    ]


@pytest.mark.parametrize("url", ["staging.example.com", "ftp://staging.example.com", "https://"])
def test_a_base_url_that_is_not_an_origin_is_refused_in_one_line(url: str) -> None:
    """Nothing is sent: the message names the expected form and what was given."""
    expected = f"--base-url must be an origin like https://staging.example.com, got {url!r}"
    assert unreachable(url) == expected


def report(name: str, outcome: str, when: str = "call", longrepr: object = None) -> pytest.TestReport:
    """A report as pytest makes one for `contract_tests/test_documented_api.py::...[name]`."""
    nodeid = f"contract_tests/test_documented_api.py::test_documented_case[{name}]"
    return pytest.TestReport(nodeid, ("x.py", 1, name), {}, outcome, longrepr, when)  # type: ignore[arg-type]


def test_the_reporter_keeps_one_line_each_and_groups_skips_by_the_option_they_need() -> None:
    """Violations, errors and one SKIP line per missing option, then the counts."""
    reporter = Reporter()
    violation = report("checkout-no-price", "failed")
    line = "checkout-no-price: POST /api/stripe/create-checkout: status: expected 400, got 422"
    violation.violation = line  # type: ignore[attr-defined]  # set by contract_tests/conftest.py
    needs = "needs --access-token (a signed-in user who has a billing account)"
    for item in [
        report("healthz", "passed"),
        report("healthz", "passed", "teardown"),
        violation,
        report("portal-200", "skipped", "setup", ("x.py", 1, f"Skipped: portal-200 {needs}")),
        report(
            "checkout-200-billing-user",
            "skipped",
            "setup",
            ("x.py", 1, f"Skipped: checkout-200-billing-user {needs}"),
        ),
        report("openapi", "failed", longrepr="ConnectionError: the deployment went away"),
    ]:
        reporter.pytest_runtest_logreport(item)

    assert reporter.lines() == [
        f"FAIL {line}",
        "ERROR openapi: ConnectionError: the deployment went away",
        f"SKIP portal-200, checkout-200-billing-user: {needs}",
    ]
    assert reporter.counts() == "1 passed, 1 failed, 2 skipped, 1 errors"
