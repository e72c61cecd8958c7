"""The compiled validators: the schema files' messages, jsonschema's semantics, and refused keywords."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.contract import CHECKOUT_REQUEST, PORTAL_REQUEST, schema_dir
from handlers.validator import INVALID_BODY, UnsupportedSchema, compile_schema

PRICE = "Price ID is required"
URLS = "Success and cancel URLs are required"
MODE = (
    "Mode is required (either 'payment' for one-time payments or 'subscription' for recurring subscription)"
)
OBJECT = "Request body must be a JSON object"
GOOD = {
    "priceId": "price_123",
    "successUrl": "https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}",
    "cancelUrl": "https://app.example.com/pricing",
    "mode": "payment",
}


def load(name: str) -> dict[str, Any]:
    """One schema file as parsed JSON."""
    loaded: dict[str, Any] = json.loads((schema_dir() / name).read_text("utf-8"))
    return loaded


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(GOOD, None, id="valid"),
        pytest.param({}, PRICE, id="empty"),
        pytest.param({**GOOD, "priceId": 0.0}, PRICE, id="float-zero-is-missing"),
        pytest.param({**GOOD, "priceId": -0.0}, PRICE, id="negative-zero-is-missing"),
        pytest.param({**GOOD, "priceId": False}, PRICE, id="false-is-missing"),
        pytest.param({**GOOD, "priceId": True}, "Price ID must be a string", id="true-is-not-one"),
        pytest.param({**GOOD, "priceId": 1}, "Price ID must be a string", id="one"),
        pytest.param({**GOOD, "priceId": []}, "Price ID must be a string", id="empty-list-is-present"),
        pytest.param({**GOOD, "priceId": "\U0001f600" * 255}, None, id="255-code-points"),
        pytest.param(
            {**GOOD, "priceId": "\U0001f600" * 256},
            "Price ID must be at most 255 characters",
            id="256-code-points",
        ),
        pytest.param({**GOOD, "mode": 0}, MODE, id="mode-zero"),
        pytest.param(
            {**GOOD, "successUrl": {}}, "successUrl must be an absolute http or https URL", id="dict"
        ),
        pytest.param(
            {**GOOD, "cancelUrl": "https://a.example/\u00a0"},
            "cancelUrl must be an absolute http or https URL",
            id="unicode-space",
        ),
        pytest.param({"successUrl": "", "mode": "x"}, PRICE, id="documented-order"),
        pytest.param([GOOD], OBJECT, id="array"),
    ],
)
def test_checkout_messages(body: Any, message: str | None) -> None:
    """The compiled checkout schema answers the schema file's message for the first error."""
    assert compile_schema(load(CHECKOUT_REQUEST))(body) == message


@pytest.mark.parametrize(
    ("schema", "instance", "message"),
    [
        pytest.param({"errorMessage": "all", "type": "string"}, 1, "all", id="own-string"),
        pytest.param({"errorMessage": {"type": "t"}, "type": "string"}, 1, "t", id="own-for-keyword"),
        pytest.param({"errorMessage": {"type": "t"}, "minLength": 1}, "", INVALID_BODY, id="other-keyword"),
        pytest.param({"errorMessage": {"type": 1}, "type": "string"}, 1, INVALID_BODY, id="not-a-string"),
        pytest.param(
            {"errorMessage": "up", "allOf": [{"errorMessage": {"type": "t"}, "minLength": 1}]},
            "",
            "up",
            id="inherited",
        ),
        pytest.param(
            {"errorMessage": {"minLength": "m"}, "allOf": [{"minLength": 1}]},
            "",
            INVALID_BODY,
            id="per-keyword-not-inherited",
        ),
        pytest.param(
            {"errorMessage": "up", "not": {"errorMessage": "in", "properties": {"a": {"const": 1}}}},
            {"a": 2},
            None,
            id="not-subschema-fails",
        ),
        pytest.param(
            {"errorMessage": "up", "not": {"errorMessage": "in", "properties": {"a": {"const": 1}}}},
            {"a": 1},
            "up",
            id="not-subschema-passes",
        ),
        pytest.param(
            {"properties": {"a": {"pattern": "^x"}, "b": {"pattern": "^y"}}},
            {"a": "x", "b": "y"},
            None,
            id="two-patterns",
        ),
    ],
)
def test_messages(schema: dict[str, Any], instance: Any, message: str | None) -> None:
    """The message is the schema's own errorMessage (whole or for the keyword), else an enclosing one's."""
    assert compile_schema(schema)(instance) == message


def test_annotations_never_fail() -> None:
    """Every annotation keyword compiles and lets any instance pass, inside `not` too."""
    annotations = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "a.json",
        "$comment": "c",
        "title": "t",
        "description": "d",
        "default": 1,
        "examples": [1],
        "deprecated": True,
        "readOnly": True,
        "writeOnly": False,
        "errorMessage": "e",
    }
    validate = compile_schema({**annotations, "properties": {"a": annotations}})
    instances: list[Any] = [None, 1, "x", [], {}, {"a": 1}]
    assert [validate(each) for each in instances] == [None] * len(instances)
    assert compile_schema({"not": annotations, "errorMessage": "n"})({"a": 1}) == "n"


def test_generated_code_is_named_after_the_schema() -> None:
    """Tracebacks and profiles name the generated code after the schema's $id."""
    validate = compile_schema(load(CHECKOUT_REQUEST))
    assert validate.__code__.co_filename == "<schema create-checkout.request.json>"


def test_portal_and_error_schemas() -> None:
    """Other schema files compile too; an error no errorMessage covers gets the neutral message."""
    portal = compile_schema(load(PORTAL_REQUEST))
    assert portal({"returnUrl": "https://app.example.com/account"}) is None
    assert portal({"returnUrl": 0}) == "Return URL is required"
    error = compile_schema(load("error.json"))
    assert error({"error": "Not found"}) is None
    assert error({"error": "Not found", "extra": 1}) == INVALID_BODY
    webhook = compile_schema(load("webhook.response.json"))
    assert webhook({"received": True, "outcome": "applied"}) is None
    assert webhook({"received": 1, "outcome": "applied"}) == INVALID_BODY


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"format": "uri"}, id="format"),
        pytest.param({"$ref": "#/$defs/x"}, id="ref"),
        pytest.param({"items": {"type": "string"}}, id="items"),
        pytest.param({"anyOf": [{"type": "string"}]}, id="anyOf"),
        pytest.param({"properties": {"a": False}}, id="boolean-subschema"),
        pytest.param({"not": True}, id="boolean-not"),
        pytest.param({"additionalProperties": {"type": "string"}}, id="additional-schema"),
        pytest.param({"enum": [[1]]}, id="array-in-enum"),
        pytest.param({"type": "text"}, id="unknown-type"),
        pytest.param({"maxLength": "5"}, id="length-not-integer"),
        pytest.param({"$schema": "http://json-schema.org/draft-07/schema#"}, id="other-draft"),
        pytest.param({"allOf": [{"type": "object"}, {"minimum": 1}]}, id="nested"),
        pytest.param({"allOf": {"type": "object"}}, id="allOf-object"),
        pytest.param({"type": []}, id="no-types"),
        pytest.param({"type": 5}, id="type-number"),
        pytest.param({"type": ["string", "text"]}, id="one-unknown-type"),
        pytest.param({"maxLength": True}, id="length-true"),
        pytest.param({"minLength": -1}, id="length-negative"),
        pytest.param({"minLength": 1.0}, id="length-float"),
        pytest.param({"required": "a"}, id="required-string"),
        pytest.param({"enum": [float("inf")]}, id="infinite"),
        pytest.param({"const": float("nan")}, id="nan"),
        pytest.param({"const": {}}, id="object-const"),
        pytest.param({"not": {"properties": {"a": {"format": "uri"}}}}, id="inside-not"),
        pytest.param({"properties": {"a": {"$schema": "x"}}}, id="nested-other-draft"),
    ],
)
def test_keywords_it_does_not_implement_are_refused(schema: dict[str, Any]) -> None:
    """A keyword the compiler does not implement stops compiling, so no schema edit is ignored."""
    with pytest.raises(UnsupportedSchema):
        compile_schema(schema)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        pytest.param(["not", "an object"], "a schema must be a JSON object", id="not-an-object"),
        pytest.param({"foo": 1}, "unsupported keyword 'foo' at #/foo", id="unknown-keyword"),
        pytest.param(
            {"$schema": "http://json-schema.org/draft-07/schema#"},
            "$schema must be https://json-schema.org/draft/2020-12/schema at #/$schema",
            id="other-draft",
        ),
        pytest.param({"allOf": []}, "allOf must be a non-empty array at #/allOf", id="empty-allOf"),
        pytest.param({"type": "text"}, "type must name JSON types at #/type", id="unknown-type"),
        pytest.param({"enum": "a"}, "enum must be an array at #/enum", id="enum-not-array"),
        pytest.param(
            {"enum": [[1]]},
            "only null, boolean, number and string values are supported at #/enum",
            id="array-in-enum",
        ),
        pytest.param(
            {"maxLength": "5"}, "maxLength must be a non-negative integer at #/maxLength", id="max-length"
        ),
        pytest.param(
            {"properties": {"a": {"pattern": 5}}},
            "pattern must be a string at #/properties/a/pattern",
            id="pattern-not-string",
        ),
        pytest.param({"required": [1]}, "required must be an array of strings at #/required", id="required"),
        pytest.param(
            {"additionalProperties": {}},
            "additionalProperties must be true or false at #/additionalProperties",
            id="additional-schema",
        ),
        pytest.param(
            {"additionalProperties": False, "patternProperties": {}},
            "patternProperties is not supported at #/additionalProperties",
            id="pattern-properties",
        ),
        pytest.param({"properties": []}, "properties must be an object at #/properties", id="properties"),
        pytest.param({"properties": {"a": False}}, "boolean subschema at #/properties/a", id="boolean"),
        pytest.param({"not": True}, "boolean subschema at #/not", id="boolean-not"),
        pytest.param({"allOf": {"type": "object"}}, "allOf must be a non-empty array at #/allOf", id="allOf"),
        pytest.param({"type": []}, "type must name JSON types at #/type", id="no-types"),
        pytest.param({"type": 5}, "type must name JSON types at #/type", id="type-number"),
        pytest.param(
            {"minLength": True}, "minLength must be a non-negative integer at #/minLength", id="true"
        ),
        pytest.param(
            {"minLength": -1}, "minLength must be a non-negative integer at #/minLength", id="negative"
        ),
        pytest.param({"required": "a"}, "required must be an array of strings at #/required", id="not-array"),
        pytest.param(
            {"additionalProperties": False, "properties": 5},
            "properties must be an object at #/properties",
            id="properties-after",
        ),
        pytest.param(
            {"enum": [float("inf")]},
            "only null, boolean, number and string values are supported at #/enum",
            id="infinite",
        ),
        pytest.param(
            {"not": {"description": "d", "$schema": "x"}},
            "$schema must be https://json-schema.org/draft/2020-12/schema at #/not/$schema",
            id="other-draft-inside-not",
        ),
        pytest.param({"not": {"type": "text"}}, "type must name JSON types at #/not/type", id="inside-not"),
        pytest.param(
            {"allOf": [{"not": {"not": {"format": "uri"}}}]},
            "unsupported keyword 'format' at #/allOf/0/not/not/format",
            id="deep",
        ),
    ],
)
def test_a_refused_schema_names_the_problem_and_where(schema: Any, message: str) -> None:
    """The refusal says what is wrong and at which JSON pointer, so a schema edit is quick to fix."""
    with pytest.raises(UnsupportedSchema) as refused:
        compile_schema(schema)
    assert str(refused.value) == message
