"""The OpenAPI document agrees with the schema files and the route table, and is served as stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from handlers import contract
from handlers.app import API_ROUTES
from handlers.asgi import App
from handlers.openapi import SERVED_SCHEMAS
from tests.helpers.asgi_client import call
from tests.helpers.fakes import make_router

DOCUMENT: dict[str, Any] = json.loads((contract.schema_dir() / "openapi.json").read_text("utf-8"))
SCHEMA_FILES = sorted(p.name for p in contract.schema_dir().glob("*.json") if p.name != "openapi.json")
TEMPLATE = "/{schemaFile}"
# Answered by the shim before any route runs (the body limit), with the error schema whatever the route.
BEFORE_THE_ROUTE = {"413": contract.ERROR}
OPERATIONS = [
    (path, method, operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
]
OPERATION_IDS = [f"{method.upper()} {path}" for path, method, _ in OPERATIONS]


def make_app() -> App:
    """The app over fakes."""
    return App(make_router(), threads=2)


def refs(node: Any) -> Iterator[str]:
    """Every $ref anywhere in `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `#/components/...` reference once."""
    ref = node.get("$ref", "")
    if not ref.startswith("#/"):
        return node
    target: Any = DOCUMENT
    for step in ref[2:].split("/"):
        target = target[step]
    return dict(target)


def body_schema(node: dict[str, Any]) -> str:
    """The schema file a request body or response object names."""
    schema = resolve(node)["content"]["application/json"]["schema"]
    assert set(schema) == {"$ref"}, "a body schema must be a reference to a file, not a copy"
    return str(schema["$ref"])


def test_every_file_reference_names_a_schema_file_and_every_file_is_referenced() -> None:
    """The document's external $refs are exactly the schema files, so neither can drift alone."""
    external = {ref for ref in refs(DOCUMENT) if not ref.startswith("#")}
    assert external == set(SCHEMA_FILES)


def test_the_document_holds_no_copy_of_a_schema() -> None:
    """No JSON Schema keyword body lives in the document: the files are the only source."""
    text = json.dumps(DOCUMENT)
    for keyword in ('"properties"', '"allOf"', '"errorMessage"', '"required": ['):
        assert keyword not in text


def test_paths_and_methods_are_the_route_table() -> None:
    """Every route is documented and every documented operation is routed."""
    paths = {path: item for path, item in DOCUMENT["paths"].items() if path != TEMPLATE}
    documented = {(path, method.upper()) for path, item in paths.items() for method in item}
    documented |= {(f"/{name}", "GET") for name in SCHEMA_FILES}
    routed = {(path, method) for path, methods in API_ROUTES.items() for method in methods}
    assert documented == routed
    (parameter,) = [p for p in DOCUMENT["paths"][TEMPLATE]["get"]["parameters"] if p.get("in") == "path"]
    enum = parameter["schema"]["enum"]
    assert sorted(enum) == sorted(SERVED_SCHEMAS) == SCHEMA_FILES


def test_response_schemas_are_the_ones_the_service_checks() -> None:
    """Each documented response names the schema the route validates that status against."""
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            route_path = f"/{SCHEMA_FILES[0]}" if path == TEMPLATE else path
            route = API_ROUTES[route_path][method.upper()]
            for status, response in operation["responses"].items():
                expected = route.ok_schema if int(status) < 400 else route.error_schema
                expected = BEFORE_THE_ROUTE.get(status, expected)
                assert body_schema(response) == expected, (path, method, status)


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/api/stripe/create-checkout", contract.CHECKOUT_REQUEST),
        ("/api/stripe/create-portal", contract.PORTAL_REQUEST),
    ],
)
def test_request_schemas_are_the_ones_the_handlers_read(path: str, schema: str) -> None:
    """The request body each operation documents is the file its handler validates with."""
    assert body_schema(DOCUMENT["paths"][path]["post"]["requestBody"]) == schema


def test_openapi_json_is_served_as_stored() -> None:
    """GET /openapi.json answers the stored document byte for byte as JSON, with its content-type."""
    result = asyncio.run(call(make_app(), "GET", "/openapi.json"))
    assert (result.status, result.headers["content-type"]) == (200, "application/json")
    assert result.json() == DOCUMENT


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_referenced_schema_files_are_served(name: str) -> None:
    """Each referenced file is served at /<name>, so the document's relative $refs resolve over HTTP."""
    result = asyncio.run(call(make_app(), "GET", f"/{name}"))
    assert result.status == 200
    assert result.json() == json.loads((contract.schema_dir() / name).read_text("utf-8"))


def test_openapi_json_is_get_only() -> None:
    """Other methods on /openapi.json are 405 with Allow: GET."""
    result = asyncio.run(call(make_app(), "POST", "/openapi.json", b"{}"))
    assert (result.status, result.headers["allow"]) == (405, "GET")


def header_parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The operation's header parameters by name, references followed."""
    found = [resolve(parameter) for parameter in operation.get("parameters", [])]
    return {parameter["name"]: parameter for parameter in found if parameter["in"] == "header"}


def test_create_checkout_declares_the_headers_the_readme_asks_the_frontend_to_send() -> None:
    """Idempotency-Key and X-Request-Id are optional string headers, so typed clients may send them."""
    headers = header_parameters(DOCUMENT["paths"]["/api/stripe/create-checkout"]["post"])
    assert set(headers) == {"Idempotency-Key", "X-Request-Id"}
    for parameter in headers.values():
        assert (parameter["required"], parameter["schema"]["type"]) == (False, "string")


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=OPERATION_IDS)
def test_every_operation_takes_x_request_id_and_every_response_returns_it(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    """Every route echoes X-Request-Id, so every operation declares it and every response carries it."""
    assert "X-Request-Id" in header_parameters(operation)
    for status, response in operation["responses"].items():
        assert "X-Request-Id" in resolve(response)["headers"], status


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=OPERATION_IDS)
def test_every_operation_documents_the_body_limit(path: str, method: str, operation: dict[str, Any]) -> None:
    """The shim answers 413 on every route before it runs, so every operation lists it."""
    assert body_schema(operation["responses"]["413"]) == contract.ERROR


def test_the_body_limit_answers_413_on_a_get_route_too() -> None:
    """GET /healthz with a body over the limit is the documented 413, not a health body."""
    result = asyncio.run(call(make_app(), "GET", "/healthz", b"x" * (64 * 1024 + 1)))
    assert (result.status, result.json()) == (413, {"error": "Request body too large"})


def test_security_says_who_may_call_each_operation() -> None:
    """create-portal needs a Bearer token or the session cookie; create-checkout takes either or none."""
    signed_in: list[dict[str, list[str]]] = [{"bearer": []}, {"supabaseCookie": []}]
    security = {f"{method.upper()} {path}": op.get("security") for path, method, op in OPERATIONS}
    assert security.pop("POST /api/stripe/create-portal") == signed_in
    assert security.pop("POST /api/stripe/create-checkout") == [{}, *signed_in]
    assert set(map(str, security.values())) == {"[]"}, "every other operation is declared public"
    assert set(DOCUMENT["components"]["securitySchemes"]) == {"bearer", "supabaseCookie"}


def test_servers_name_the_serving_origin() -> None:
    """One relative server: the paths are relative to wherever the document is served from."""
    assert [server["url"] for server in DOCUMENT["servers"]] == ["/"]
