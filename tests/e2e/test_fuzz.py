"""Generated requests from the OpenAPI document against a local service: no 5xx, every answer documented."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from contract_tests.deployment import ROOT, Target, local_service

SCHEMA = schemathesis.openapi.from_path(ROOT / "schemas" / "openapi.json")
# Bounded so the whole run stays a few seconds; raise it locally to search harder.
MAX_EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(name="service", scope="module")
def _service() -> Iterator[Target]:
    with local_service() as target:
        yield target


@pytest.fixture(name="http", scope="module")
def _http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_keep_the_contract(
    case: schemathesis.Case[schemathesis.APIOperation[Any, Any, Any, Any]],
    service: Target,
    http: requests.Session,
) -> None:
    """Whatever schemathesis generates gets no 5xx and a documented status, content-type and body."""
    # Signed in as a user with a billing account, so create-portal's body and Stripe paths are reached.
    signed_in = {"Authorization": f"Bearer {service.access_token}"}
    case.call_and_validate(base_url=service.base_url, session=http, headers=signed_in, checks=CHECKS)
