"""GET /openapi.json and the schema files it references, served exactly as they are stored."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from . import contract
from .deps import Deps
from .http import Request, Response

# Served beside /openapi.json, so its relative $refs resolve over HTTP too.
SERVED_SCHEMAS = (
    contract.CHECKOUT_REQUEST,
    contract.CHECKOUT_RESPONSE,
    contract.PORTAL_REQUEST,
    contract.PORTAL_RESPONSE,
    contract.ERROR,
    contract.HEALTH_RESPONSE,
    contract.WEBHOOK_RESPONSE,
    contract.OPENAPI_RESPONSE,
    contract.SCHEMA_RESPONSE,
)


def openapi_document(request: Request, deps: Deps) -> Response:
    """The OpenAPI 3.1 description of this service.

    GET /openapi.json -> schemas/openapi.response.json
    - 200 the document in schemas/openapi.json; its $refs name the schema files, served at /<file>
    """
    return Response(200, stored(contract.OPENAPI))


def schema_file(request: Request, deps: Deps) -> Response:
    """One JSON Schema file from schemas/, named by the path.

    GET /<file>.json -> schemas/schema.response.json
    - 200 the file's JSON
    """
    return Response(200, stored(request.path.removeprefix("/")))


@cache
def stored(name: str) -> Any:
    """The parsed file `name` from the schema folder, read on first use only."""
    return json.loads((contract.schema_dir() / name).read_text("utf-8"))
