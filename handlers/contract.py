"""The JSON Schema contract: `schemas/` loaded once, each file compiled into a validator on first use.

The 400 messages come from each schema's `errorMessage` keywords (the form the JS package ajv-errors
reads), never from a validation library's own wording, so the frontend and this service say the same
thing. The validators are generated from the files themselves (`handlers.validator`), so the files stay
the only place where the rules and the messages are written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import json_depth
from .http import HTTPError, Request

if TYPE_CHECKING:
    from .validator import Validator

CHECKOUT_REQUEST = "create-checkout.request.json"
CHECKOUT_RESPONSE = "create-checkout.response.json"
PORTAL_REQUEST = "create-portal.request.json"
PORTAL_RESPONSE = "create-portal.response.json"
ERROR = "error.json"
HEALTH_RESPONSE = "health.response.json"
WEBHOOK_RESPONSE = "webhook.response.json"
OPENAPI_RESPONSE = "openapi.response.json"
SCHEMA_RESPONSE = "schema.response.json"
# The OpenAPI document lives beside the schemas but is not itself a JSON Schema.
OPENAPI = "openapi.json"

NOT_JSON = "Request body must be valid JSON"


def schema_dir() -> Path:
    """Where the schema files are: inside an installed wheel, else the checkout's `schemas/`."""
    packaged = Path(__file__).with_name("_schemas")
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "schemas"


class Contract:
    """The schema files, each compiled into a validator the first time a request needs it."""

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self._schemas = dict(schemas)
        # Compiled on first use: a worker's first request (the edge's cold start) compiles only its own.
        self._validators: dict[str, Validator] = {}

    @classmethod
    def load(cls, directory: Path | None = None) -> Contract:
        """Read every `*.json` schema in `directory` (default: `schema_dir()`)."""
        folder = directory or schema_dir()
        paths = [path for path in folder.glob("*.json") if path.name != OPENAPI]
        return cls({path.name: json.loads(path.read_text("utf-8")) for path in paths})

    def validator(self, schema: str) -> Validator:
        """The compiled validator of the schema file `schema`."""
        found = self._validators.get(schema)
        if found is None:
            # Two threads may both compile it once: the same pure function, so either result will do.
            from .validator import compile_schema

            found = self._validators[schema] = compile_schema(self._schemas[schema])
        return found

    def first_error(self, schema: str, instance: Any) -> str | None:
        """The message of the first error in `instance`, in the schema's documented order; None if valid."""
        return self.validator(schema)(instance)

    def read(self, request: Request, schema: str) -> dict[str, Any]:
        """The body parsed and valid against `schema`, else HTTPError 400 with the contract's message."""
        try:
            data = json_depth.loads(request.body)
            if b"\\u" in request.body:
                # JSON lets a string hold a lone surrogate (\udc00), which no UTF-8 consumer accepts.
                json.dumps(data, ensure_ascii=False).encode()
        except ValueError:  # UnicodeError and json_depth.TooDeep are ValueErrors
            raise HTTPError(400, NOT_JSON) from None
        message = self.validator(schema)(data)
        if message is not None:
            raise HTTPError(400, message)
        assert isinstance(data, dict)
        return data
