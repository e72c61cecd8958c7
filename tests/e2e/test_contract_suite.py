"""The contract suite itself: it passes against the service, and fails naming the case against broken ones."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from contract_tests.deployment import ROOT, Target, local_service
from tests.helpers.broken_server import proxy


@pytest.fixture(name="service", scope="module")
def _service() -> Iterator[Target]:
    with local_service() as target:
        yield target


def run_suite(base_url: str, target: Target) -> subprocess.CompletedProcess[str]:
    """`pytest contract_tests --base-url ...` in a subprocess, as a user runs it against staging."""
    command = [
        *(sys.executable, "-m", "pytest", "contract_tests", "-p", "no:cacheprovider", "-q"),
        *("--base-url", base_url, "--jwt-secret", target.jwt_secret or ""),
        *("--supabase-url", target.supabase_url or "", "--access-token", target.access_token or ""),
        *("--price-id", target.price_id or "", "--offline-stripe"),
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_suite_passes_through_a_faithful_proxy(service: Target) -> None:
    """Through the proxy that changes nothing, every case passes: the failures below are the breakage."""
    with proxy(service.base_url, "none") as url:
        result = run_suite(url, service)
    assert result.returncode == 0, result.stdout[-3000:]
    assert " failed" not in result.stdout


@pytest.mark.parametrize(
    ("mode", "case", "lines"),
    [
        pytest.param(
            "wrong-message",
            "checkout-no-price",
            [
                'expected: 400 {"error": "Price ID is required"}',
                'actual:   400 {"error": "Price is required"}',
            ],
            id="wrong-message",
        ),
        pytest.param(
            "wrong-status",
            "portal-return-url-before-billing-account",
            [
                'expected: 400 {"error": "Return URL is required"}',
                'actual:   422 {"error": "Return URL is required"}',
                "status: expected 400, got 422",
            ],
            id="wrong-status",
        ),
        pytest.param(
            "no-content-type",
            "healthz",
            [
                'expected: 200 {"status": "ok", "profiles": "ok"}',
                "content-type: expected application/json, got None",
            ],
            id="no-content-type",
        ),
    ],
)
def test_suite_fails_against_a_broken_server(service: Target, mode: str, case: str, lines: list[str]) -> None:
    """A non-zero exit, and the summary names the failing case with expected and actual."""
    with proxy(service.base_url, mode) as url:
        result = run_suite(url, service)
    assert result.returncode == 1, result.stdout[-3000:]
    summary = result.stdout.split("contract violations:", 1)[1]
    assert f"FAILED contract_tests/test_documented_api.py::test_documented_case[{case}]" in summary
    block = summary.split(f"\n{case}: ", 1)[1].split("\n\n")[0]
    for line in lines:
        assert line in block
