"""The JSON Schema contract: loads `schemas/`, one validator per file, messages from the files.

The 400 messages come from each schema's `errorMessage` keywords (the form the JS package ajv-errors
reads), never from jsonschema's own wording, so the frontend and this service say the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import json_depth
from .http import HTTPError, Request

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

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

REMEMBERED_VERDICTS = 1024
REMEMBERED_BODY_BYTES = 2048
NOT_JSON = "Request body must be valid JSON"
INVALID_BODY = "Request body is invalid"


def schema_dir() -> Path:
    """Where the schema files are: inside an installed wheel, else the checkout's `schemas/`."""
    packaged = Path(__file__).with_name("_schemas")
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "schemas"


class Contract:
    """One checked, prebuilt validator per schema file."""

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self._schemas = dict(schemas)
        # Verdicts are a pure function of (schema, bytes), and bodies repeat: every visitor of one pricing
        # page sends the same checkout body, and every error body is built from a handful of messages.
        # Remembering them saved half of what this service adds to a 400 (cProfile, scripts/bench).
        self._verdicts: dict[tuple[str, str | bytes], str | None] = {}
        # Imported here, with the schemas it compiles: jsonschema is most of the package's import time.
        from jsonschema import Draft202012Validator

        self._validators: dict[str, Draft202012Validator] = {}
        for name, schema in schemas.items():
            Draft202012Validator.check_schema(schema)
            self._validators[name] = Draft202012Validator(schema)

    @classmethod
    def load(cls, directory: Path | None = None) -> Contract:
        """Read every `*.json` schema in `directory` (default: `schema_dir()`)."""
        folder = directory or schema_dir()
        paths = [path for path in folder.glob("*.json") if path.name != OPENAPI]
        return cls({path.name: json.loads(path.read_text("utf-8")) for path in paths})

    def first_error(self, schema: str, instance: Any) -> str | None:
        """The message of the first error in `instance`, in the schema's documented order; None if valid."""
        error = next(self._validators[schema].iter_errors(instance), None)
        if error is None:
            return None
        return _message(self._schemas[schema], error)

    def error_body_problem(self, schema: str, message: str) -> str | None:
        """first_error for `{"error": message}`, remembered."""
        return self._remembered((schema, message), lambda: self.first_error(schema, {"error": message}))

    def read(self, request: Request, schema: str) -> dict[str, Any]:
        """The body parsed and valid against `schema`, else HTTPError 400 with the contract's message."""
        try:
            data = json_depth.loads(request.body)
            if b"\\u" in request.body:
                # JSON lets a string hold a lone surrogate (\udc00), which no UTF-8 consumer accepts.
                json.dumps(data, ensure_ascii=False).encode("utf-8")
        except ValueError:  # UnicodeError and json_depth.TooDeep are ValueErrors
            raise HTTPError(400, NOT_JSON) from None
        if len(request.body) <= REMEMBERED_BODY_BYTES:
            message = self._remembered((schema, request.body), lambda: self.first_error(schema, data))
        else:
            message = self.first_error(schema, data)
        if message is not None:
            raise HTTPError(400, message)
        assert isinstance(data, dict)
        return data

    def _remembered(self, key: tuple[str, str | bytes], verdict: Callable[[], str | None]) -> str | None:
        if key not in self._verdicts:
            if len(self._verdicts) >= REMEMBERED_VERDICTS:  # bodies can carry ids: keep memory bounded
                self._verdicts.clear()
            self._verdicts[key] = verdict()
        return self._verdicts[key]


def _message(root: Mapping[str, Any], error: ValidationError) -> str:
    """The errorMessage that ajv-errors would report for `error`: the nearest one that covers it."""
    path = list(error.absolute_schema_path)
    keyword = path[-1] if path else ""
    for depth, node in enumerate(reversed(list(_nodes(root, path[:-1])))):
        text = node.get("errorMessage")
        if isinstance(text, str):
            return text
        if depth == 0 and isinstance(text, Mapping) and isinstance(text.get(keyword), str):
            return str(text[keyword])
    return INVALID_BODY


def _nodes(root: Mapping[str, Any], path: list[str | int]) -> Iterator[Mapping[str, Any]]:
    """Every schema object from the root down to the one at `path`."""
    node: Any = root
    yield node
    for step in path:
        node = node[step]
        if isinstance(node, Mapping):
            yield node
