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
    enum = DOCUMENT["paths"][TEMPLATE]["get"]["parameters"][0]["schema"]["enum"]
    assert sorted(enum) == sorted(SERVED_SCHEMAS) == SCHEMA_FILES


def test_response_schemas_are_the_ones_the_service_checks() -> None:
    """Each documented response names the schema the route validates that status against."""
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            route_path = f"/{SCHEMA_FILES[0]}" if path == TEMPLATE else path
            route = API_ROUTES[route_path][method.upper()]
            for status, response in operation["responses"].items():
                expected = route.ok_schema if int(status) < 400 else route.error_schema
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
