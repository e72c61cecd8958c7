"""The documented cases in cases.json, and how one becomes an HTTP request for a given deployment."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract_tests.credentials import Missing, headers_for
from contract_tests.deployment import Target

CASES_FILE = Path(__file__).with_name("cases.json")


@dataclass(frozen=True)
class Case:
    """One documented request and the exact answer it must get, as written in cases.json."""

    id: str
    documented: str
    request: dict[str, Any]
    expect: dict[str, Any]
    validates: str | None = None
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """A case made concrete for one run against one deployment."""

    case: Case
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    chunked: bool
    expect: dict[str, Any] = field(default_factory=dict)


def load_cases(path: Path = CASES_FILE) -> list[Case]:
    """Every case in the data file, in order."""
    data = json.loads(path.read_text("utf-8"))
    return [
        Case(
            id=item["id"],
            documented=item["documented"],
            request=item["request"],
            expect=item["expect"],
            validates=item.get("validates"),
            needs=tuple(item.get("needs", ())),
        )
        for item in data["cases"]
    ]


def prepare(case: Case, target: Target) -> Prepared:
    """The concrete request; raises Missing (naming the option) when the run cannot send it."""
    if "real-stripe" in case.needs and (target.offline_stripe or not target.price_id):
        raise Missing("needs --price-id and a deployment on real Stripe (not --offline-stripe)")
    values = {
        "$RUN_ID": target.run_id,
        "$PRICE_MODE": target.price_mode,
        "$PRICE_ID": target.price_id or "",
    }
    request = case.request
    if "$PRICE_ID" in json.dumps(request) and not target.price_id:
        raise Missing("needs --price-id (a test-mode price of the deployment's Stripe account)")
    request = substitute(request, values)
    tag = f"contract-{target.run_id}-{case.id}"
    headers = {"X-Request-Id": tag, "Idempotency-Key": tag, **headers_for(request.get("credential"), target)}
    headers.update(request.get("headers", {}))
    body: bytes | None = None
    if "json" in request:
        body = json.dumps(request["json"]).encode("utf-8")
    elif "raw" in request:
        body = str(request["raw"]).encode(request.get("encoding", "utf-8"))
    elif "oversize" in request:
        size = int(request["oversize"])
        body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
        # The server may answer before reading it all; a reused connection would carry the rest.
        headers["Connection"] = "close"
    if body is not None:
        headers["Content-Type"] = "application/json"
    return Prepared(
        case=case,
        method=request["method"],
        url=f"{target.base_url}{request['path']}",
        headers=headers,
        body=body,
        chunked=bool(request.get("chunked")),
        expect=substitute(case.expect, values),
    )


def substitute(value: Any, values: dict[str, str]) -> Any:
    """`value` with every placeholder in its strings replaced."""
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace(name, replacement)
        return value
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    return value
