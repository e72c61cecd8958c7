"""`billing-contract`: the contract suite against a deployment, one line per violation and a summary.

Exit status: 0 when every case that ran kept the contract, 1 on any violation or error, 2 when the
run could not start (no --base-url outside a checkout, a bad option, a deployment that does not answer).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from contract_tests.deployment import CHECKOUT, NEEDS_BASE_URL
from contract_tests.options import OPTIONS

PROG = "billing-contract"
SUITE = Path(__file__).resolve().parent
REACH_SECONDS = 10.0
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite as the options say; print one line per violation, then the counts."""
    args = parser().parse_args(argv)
    if not args.base_url and not CHECKOUT:
        return refuse(NEEDS_BASE_URL)
    if args.base_url:
        problem = unreachable(args.base_url)
        if problem:
            return refuse(problem)
    reporter = Reporter()
    code = pytest.main(pytest_arguments(args), plugins=[reporter])
    for line in reporter.lines():
        print(line)
    where = args.base_url or "a service started from this checkout"
    report = f"; JUnit XML in {args.junitxml}" if args.junitxml else ""
    print(f"{PROG}: {reporter.counts()} against {where}{report}")
    if code == pytest.ExitCode.USAGE_ERROR:
        return 2
    return 0 if code == pytest.ExitCode.OK else 1


def parser() -> argparse.ArgumentParser:
    """The command's options: the suite's own, and where to write the JUnit report."""
    found = argparse.ArgumentParser(
        prog=PROG,
        description="Check a billing-handlers deployment against its documented contract. "
        "A case that needs an option that was not given is skipped, and the summary names the option.",
    )
    for option in OPTIONS:
        found.add_argument(option.flag, **option.arguments(os.environ))
    found.add_argument("--junitxml", metavar="PATH", help="also write a JUnit XML report to PATH")
    return found


def refuse(problem: str) -> int:
    """Say in one line why the run cannot start."""
    print(f"{PROG}: {problem}", file=sys.stderr)
    return 2


def unreachable(base_url: str) -> str | None:
    """Why `base_url` cannot be checked, in a few words; None when it answers HTTP at all."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--base-url must be an origin like https://staging.example.com, got {base_url!r}"
    try:
        requests.get(f"{base_url.rstrip('/')}/healthz", timeout=REACH_SECONDS, allow_redirects=False)
    except requests.RequestException as exc:
        reason = _ERRNO.search(str(exc))
        return f"cannot reach {base_url}: {reason.group(1) if reason else type(exc).__name__}"
    return None


def pytest_arguments(args: argparse.Namespace) -> list[str]:
    """pytest's command line: this package only, none of a project's configuration, the given options."""
    found = [str(SUITE), "-c", os.devnull, "--rootdir", str(SUITE.parent)]
    found += ["-p", "no:terminal", "-p", "no:cacheprovider", "-o", f"junit_suite_name={PROG}"]
    for option in OPTIONS:
        value = getattr(args, option.dest)
        if option.switch and value:
            found.append(option.flag)
        elif not option.switch and value is not None:
            found += [option.flag, value]
    if args.junitxml:
        found += ["--junitxml", args.junitxml]
    return found


class Reporter:
    """A pytest plugin that keeps one line per violation, error and kind of skip."""

    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []
        self.errors: list[str] = []
        self.skipped: dict[str, list[str]] = {}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module that cannot even be collected is an error of the run."""
        if report.failed:
            self.errors.append(f"ERROR collecting {report.nodeid or 'the suite'}: {_first_line(report)}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count each case once, by the phase that decided it."""
        violation = getattr(report, "violation", None)
        if report.failed and violation:
            self.failures.append(f"FAIL {violation}")
        elif report.failed:
            self.errors.append(f"ERROR {_case(report.nodeid)}: {_first_line(report)}")
        elif report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            case, _, needs = reason.partition(" ")
            self.skipped.setdefault(needs, []).append(case)
        elif report.passed and report.when == "call":
            self.passed += 1

    def lines(self) -> list[str]:
        """Violations first, then errors, then one line for each reason cases were skipped."""
        skips = [f"SKIP {', '.join(cases)}: {needs}" for needs, cases in self.skipped.items()]
        return [*self.failures, *self.errors, *skips]

    def counts(self) -> str:
        """`N passed, N failed, N skipped`, and errors when there were any."""
        skipped = sum(len(cases) for cases in self.skipped.values())
        text = f"{self.passed} passed, {len(self.failures)} failed, {skipped} skipped"
        return f"{text}, {len(self.errors)} errors" if self.errors else text


def _case(nodeid: str) -> str:
    name = nodeid.rpartition("::")[2]
    return name.partition("[")[2].rstrip("]") or name


def _first_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(crash.message) if crash is not None else str(report.longrepr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else report.outcome


if __name__ == "__main__":
    sys.exit(main())
