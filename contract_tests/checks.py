"""Send a prepared case and compare the answer with the contract; every difference is reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft202012Validator

from contract_tests.cases import Prepared

HERE = Path(__file__).resolve().parent
# The wheel carries its own copy of schemas/ inside the package; a checkout has the one folder.
SCHEMAS = HERE / "_schemas" if (HERE / "_schemas").is_dir() else HERE.parent / "schemas"
TIMEOUT = (5, 30)


class ContractViolation(AssertionError):
    """The deployment answered a documented case differently from the contract."""

    def __init__(self, report: str, line: str) -> None:
        super().__init__(report)
        self.line = line


def send(prepared: Prepared, session: requests.Session) -> requests.Response:
    """Send the request; a chunked body is streamed so no Content-Length is declared."""
    body: Any = prepared.body
    if prepared.chunked and body is not None:
        raw = body
        body = (raw[start : start + 8192] for start in range(0, len(raw), 8192))
    return session.request(
        prepared.method,
        prepared.url,
        data=body,
        headers=prepared.headers,
        timeout=TIMEOUT,
        allow_redirects=False,
    )


@cache
def validator(name: str) -> Draft202012Validator:
    """A checked validator for schemas/<name>."""
    schema = json.loads((SCHEMAS / name).read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(prepared: Prepared, response: requests.Response) -> list[str]:
    """Every way `response` differs from what the case expects; empty when it keeps the contract."""
    return list(_problems(prepared, response))


def _problems(prepared: Prepared, response: requests.Response) -> Iterator[str]:
    expect = prepared.expect
    if response.status_code != expect["status"]:
        yield f"status: expected {expect['status']}, got {response.status_code}"
    content_type = response.headers.get("content-type")
    if content_type is None or content_type.split(";")[0].strip().lower() != "application/json":
        yield f"content-type: expected application/json, got {content_type!r}"
    sent_id = prepared.headers["X-Request-Id"]
    if response.headers.get("x-request-id") != sent_id:
        yield f"x-request-id: expected {sent_id!r} echoed, got {response.headers.get('x-request-id')!r}"
    for name, value in expect.get("headers", {}).items():
        if response.headers.get(name) != value:
            yield f"{name}: expected {value!r}, got {response.headers.get(name)!r}"
    try:
        body = response.json()
    except ValueError:
        yield f"body: expected JSON, got {response.text[:300]!r}"
        return
    if "body" in expect and body != expect["body"]:
        yield f"body: expected {_show(expect['body'])}, got {_show(body)}"
    schema = expect.get("schema")
    if schema:
        error = next(iter(validator(schema).iter_errors(body)), None)
        if error is not None:
            yield f"body breaks schemas/{schema}: {error.message}"


def report(prepared: Prepared, response: requests.Response, found: list[str]) -> str:
    """One block naming the case, what was expected and what came back."""
    expect = prepared.expect
    wanted = _show(expect["body"]) if "body" in expect else f"a body valid against schemas/{expect['schema']}"
    request = prepared.case.request
    return "\n".join(
        [
            f"{prepared.case.id}: {request['method']} {request['path']} ({prepared.case.documented})",
            f"  expected: {expect['status']} {wanted}",
            f"  actual:   {response.status_code} {_show_text(response)}",
            *(f"  - {line}" for line in found),
        ]
    )


def one_line(prepared: Prepared, found: list[str]) -> str:
    """The same, in one line: the case, its request and every difference."""
    request = prepared.case.request
    return f"{prepared.case.id}: {request['method']} {request['path']}: {'; '.join(found)}"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "..."


def _show_text(response: requests.Response) -> str:
    try:
        return _show(response.json())
    except ValueError:
        return repr(response.text[:300])
