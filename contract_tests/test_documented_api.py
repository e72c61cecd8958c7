"""Every documented case in cases.json, replayed over HTTP against the deployment under test."""

from __future__ import annotations

import pytest
import requests

from contract_tests.cases import Case, load_cases, prepare
from contract_tests.checks import ContractViolation, one_line, problems, report, send
from contract_tests.credentials import Missing
from contract_tests.deployment import Target

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_documented_case(case: Case, target: Target, http: requests.Session) -> None:
    """The deployment answers the case with exactly the documented status, body, schema and headers."""
    try:
        prepared = prepare(case, target)
    except Missing as exc:
        pytest.skip(f"{case.id} {exc}")
    response = send(prepared, http)
    found = problems(prepared, response)
    if found:
        raise ContractViolation(report(prepared, response, found), one_line(prepared, found))
