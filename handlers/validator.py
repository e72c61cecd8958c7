"""JSON Schema files compiled into plain Python functions that answer the first error's message.

`compile_schema` turns one schema from `schemas/` into a function generated from that file alone: it
checks the keywords in the order jsonschema (Draft 2020-12) reports their errors, and answers the
`errorMessage` that ajv-errors shows for the first one, so the schema files stay the only place where
the rules and the messages are written. Only the keywords `schemas/` uses are implemented; any other
keyword is refused when compiling, so that no edit to a schema is ever silently ignored.
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
INVALID_BODY = "Request body is invalid"

# Keywords that never fail an instance (jsonschema has no validator for them).
ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "errorMessage",
    }
)
# jsonschema's Draft 2020-12 type checker, as expressions over the instance `{0}`.
TYPE_TESTS = {
    "string": "isinstance({0}, str)",
    "object": "isinstance({0}, dict)",
    "array": "isinstance({0}, list)",
    "null": "{0} is None",
    "boolean": "isinstance({0}, bool)",
    "number": "(isinstance({0}, _Number) and not isinstance({0}, bool))",
    "integer": (
        "((isinstance({0}, int) and not isinstance({0}, bool))"
        " or (isinstance({0}, float) and {0}.is_integer()))"
    ),
}

Validator = Callable[[Any], "str | None"]


class UnsupportedSchema(ValueError):
    """The schema uses a keyword, or a form of one, that this compiler does not implement."""


def compile_schema(schema: Mapping[str, Any]) -> Validator:
    """A function of an instance answering the message of its first error, or None when it is valid."""
    return _Compiler(schema).build()


class _Compiler:
    """Writes one function's source from a schema, keyword by keyword, then compiles it."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        if not isinstance(root, Mapping):
            raise UnsupportedSchema("a schema must be a JSON object")
        self.root = root
        self.namespace: dict[str, Any] = {"_Number": numbers.Number}
        self.functions: list[list[str]] = []
        self.names = (f"_{index}" for index in itertools.count())  # the generated code's own names

    def build(self) -> Validator:
        self.functions.append(
            ["def validate(x):", *self.node(self.root, [], "x", 1, INVALID_BODY), "    return None"]
        )
        source = "\n\n".join("\n".join(lines) for lines in self.functions)
        # The file name tracebacks and profiles show for the generated code.
        exec(compile(source, f"<schema {self.root.get('$id')}>", "exec"), self.namespace)
        validate: Validator = self.namespace["validate"]
        return validate

    def constant(self, value: Any) -> str:
        """A name in the generated module's namespace bound to `value`."""
        name = next(self.names)
        self.namespace[name] = value
        return name

    def node(self, schema: Any, path: list[str | int], var: str, indent: int, inherited: str) -> list[str]:
        """Statements that return the message of the first error `schema` finds in `var`.

        The message is ajv-errors': `schema`'s own errorMessage, a string or one for the failing keyword,
        else `inherited`, the nearest string errorMessage of the schemas enclosing it.
        """
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(f"boolean subschema at {_where(path)}")
        own = schema.get("errorMessage")
        inherited = own if isinstance(own, str) else inherited
        per_keyword = own if isinstance(own, Mapping) else {}
        pad = "    " * indent
        lines: list[str] = []
        for keyword, value in schema.items():
            here = [*path, keyword]
            if keyword in ANNOTATIONS:
                if keyword == "$schema" and value != DRAFT_2020_12:
                    raise UnsupportedSchema(f"$schema must be {DRAFT_2020_12} at {_where(here)}")
                continue
            text = per_keyword.get(keyword)
            message = repr(text if isinstance(text, str) else inherited)
            condition = self.condition(keyword, value, var, schema, here)
            if condition is not None:
                lines += [f"{pad}if {condition}:", f"{pad}    return {message}"]
            elif keyword == "allOf":
                if not isinstance(value, list) or not value:
                    raise UnsupportedSchema(f"allOf must be a non-empty array at {_where(here)}")
                for index, member in enumerate(value):
                    lines += self.node(member, [*here, index], var, indent, inherited)
            elif keyword == "properties":
                lines += self.properties(value, here, var, indent, inherited)
            elif keyword == "not":
                lines += self.negation(value, here, var, pad, message)
            else:
                raise UnsupportedSchema(f"unsupported keyword {keyword!r} at {_where(here)}")
        return lines

    def condition(
        self, keyword: str, value: Any, var: str, schema: Mapping[str, Any], path: list[str | int]
    ) -> str | None:
        """An expression true when `keyword` (of `schema`) fails on `var`; None if not such a keyword."""
        if keyword == "type":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not names or any(name not in TYPE_TESTS for name in names):
                raise UnsupportedSchema(f"type must name JSON types at {_where(path)}")
            return "not (" + " or ".join(TYPE_TESTS[name].format(var) for name in names) + ")"
        if keyword == "enum":
            if not isinstance(value, list):
                raise UnsupportedSchema(f"enum must be an array at {_where(path)}")
            return "not (" + (" or ".join(self.equals(var, each, path) for each in value) or "False") + ")"
        if keyword == "const":
            return f"not ({self.equals(var, value, path)})"
        if keyword in ("maxLength", "minLength"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UnsupportedSchema(f"{keyword} must be a non-negative integer at {_where(path)}")
            return _when_string(var, f"len({var}) {'>' if keyword == 'maxLength' else '<'} {value}")
        if keyword == "pattern":
            if not isinstance(value, str):
                raise UnsupportedSchema(f"pattern must be a string at {_where(path)}")
            search = self.constant(re.compile(value).search)  # jsonschema uses re.search, not re.match
            return _when_string(var, f"not {search}({var})")
        if keyword == "required":
            if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
                raise UnsupportedSchema(f"required must be an array of strings at {_where(path)}")
            # Every missing name is an error at this same path, so the first one's message is the same.
            return _when_object(var, " or ".join(f"{name!r} not in {var}" for name in value) or "False")
        if keyword == "additionalProperties":
            if not isinstance(value, bool):
                raise UnsupportedSchema(f"additionalProperties must be true or false at {_where(path)}")
            if "patternProperties" in schema:
                raise UnsupportedSchema(f"patternProperties is not supported at {_where(path)}")
            declared = schema.get("properties")
            allowed = self.constant(frozenset(declared if isinstance(declared, Mapping) else ()))
            return _when_object(var, "False" if value else f"not {allowed}.issuperset({var})")
        return None

    def equals(self, var: str, value: Any, path: list[str | int]) -> str:
        """An expression for jsonschema's `equal(var, value)`: bools are never numbers here."""
        if value is None or isinstance(value, bool):
            return f"{var} is {value!r}"
        if isinstance(value, str):
            return f"{var} == {value!r}"
        if isinstance(value, int | float) and math.isfinite(value):
            return f"({var} == {value!r} and {var} is not True and {var} is not False)"
        raise UnsupportedSchema(
            f"only null, boolean, number and string values are supported at {_where(path)}"
        )

    def properties(
        self, value: Any, path: list[str | int], var: str, indent: int, inherited: str
    ) -> list[str]:
        if not isinstance(value, Mapping):
            raise UnsupportedSchema(f"properties must be an object at {_where(path)}")
        pad = "    " * (indent + 1)
        lines: list[str] = []
        for name, subschema in value.items():
            item = next(self.names)
            inner = self.node(subschema, [*path, name], item, indent + 2, inherited)
            if inner:
                lines += [f"{pad}if {name!r} in {var}:", f"{pad}    {item} = {var}[{name!r}]", *inner]
        return [f"{'    ' * indent}if isinstance({var}, dict):", *lines] if lines else []

    def negation(self, value: Any, path: list[str | int], var: str, pad: str, message: str) -> list[str]:
        """`not`: an error when the subschema finds none; its own errors are never reported."""
        if not isinstance(value, Mapping):
            raise UnsupportedSchema(f"boolean subschema at {_where(path)}")
        failures: list[str] = []
        for keyword, each in value.items():
            failure = self.condition(keyword, each, var, value, [*path, keyword])
            if failure is None:
                break
            failures.append(f"({failure})")
        else:
            return [f"{pad}if not ({' or '.join(failures) or 'False'}):", f"{pad}    return {message}"]
        # A subschema with nested keywords becomes a function of its own, returning None when valid.
        helper = next(self.names)
        self.functions.append(
            [f"def {helper}(x):", *self.node(value, path, "x", 1, INVALID_BODY), "    return None"]
        )
        return [f"{pad}if {helper}({var}) is None:", f"{pad}    return {message}"]


def _when_string(var: str, failure: str) -> str:
    """`failure`, applied only when `var` is a string, as jsonschema's string keywords are."""
    return f"isinstance({var}, str) and ({failure})"


def _when_object(var: str, failure: str) -> str:
    """`failure`, applied only when `var` is an object, as jsonschema's object keywords are."""
    return f"isinstance({var}, dict) and ({failure})"


def _where(path: list[str | int]) -> str:
    return "#/" + "/".join(str(step) for step in path)
