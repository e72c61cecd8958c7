"""JSON Schema files compiled into plain Python functions that answer the first error's message.

`compile_schema` turns one schema from `schemas/` into a function generated from that file alone: it
checks the keywords in the order jsonschema (Draft 2020-12) reports their errors, and answers the
`errorMessage` that ajv-errors shows for the first one, so the schema files stay the only place where
the rules and the messages are written. Only the keywords `schemas/` uses are implemented; any other
keyword is refused when compiling, so that no edit to a schema is ever silently ignored.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterator, Mapping
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
# Instances of any JSON type: what a variable may hold before a `type` keyword narrows it.
ANY_TYPE = frozenset(TYPE_TESTS)

Validator = Callable[[Any], "str | None"]


class UnsupportedSchema(ValueError):
    """The schema uses a keyword, or a form of one, that this compiler does not implement."""


def compile_schema(schema: Mapping[str, Any]) -> Validator:
    """A function of an instance answering the message of its first error, or None when it is valid."""
    return _Compiler(schema).build()


def message_for(root: Mapping[str, Any], path: list[str | int]) -> str:
    """The errorMessage ajv-errors reports for an error at schema `path`: the nearest one covering it."""
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


class _Compiler:
    """Writes one function's source from a schema, keyword by keyword, then compiles it."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        if not isinstance(root, Mapping):
            raise UnsupportedSchema("a schema must be a JSON object")
        self.root = root
        self.namespace: dict[str, Any] = {"_Number": numbers.Number, "_MISSING": object()}
        self.functions: list[list[str]] = []
        self.count = 0

    def build(self) -> Validator:
        body = self.node(self.root, [], "x", {"x": ANY_TYPE}, 1)
        self.functions.append(["def validate(x):", *body, "    return None"])
        source = "\n\n".join("\n".join(lines) for lines in self.functions) + "\n"
        name = self.root.get("$id")
        code = compile(source, f"<schema {name if isinstance(name, str) else '(no $id)'}>", "exec")
        exec(code, self.namespace)
        validate: Validator = self.namespace["validate"]
        return validate

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, value: Any) -> str:
        """A name in the generated module's namespace bound to `value`."""
        name = self.fresh("_c")
        self.namespace[name] = value
        return name

    def node(
        self,
        schema: Any,
        path: list[str | int],
        var: str,
        known: dict[str, frozenset[str]],
        indent: int,
    ) -> list[str]:
        """Statements that return the message of the first error `schema` finds in `var`."""
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(f"boolean subschema at {_where(path)}")
        pad = "    " * indent
        lines: list[str] = []
        for keyword, value in schema.items():
            here = [*path, keyword]
            if keyword in ANNOTATIONS:
                if keyword == "$schema" and value != DRAFT_2020_12:
                    raise UnsupportedSchema(f"$schema must be {DRAFT_2020_12} at {_where(here)}")
                continue
            message = repr(message_for(self.root, here))
            condition = self.condition(keyword, value, var, known, here)
            if condition is not None:
                if condition != "False":
                    lines.append(f"{pad}if {condition}:")
                    lines.append(f"{pad}    return {message}")
                continue
            if keyword == "allOf":
                if not isinstance(value, list) or not value:
                    raise UnsupportedSchema(f"allOf must be a non-empty array at {_where(here)}")
                for index, member in enumerate(value):
                    lines += self.node(member, [*here, index], var, known, indent)
            elif keyword == "properties":
                lines += self.properties(value, here, var, known, indent)
            elif keyword == "not":
                lines += self.negation(value, here, var, known, pad, message)
            else:
                raise UnsupportedSchema(f"unsupported keyword {keyword!r} at {_where(here)}")
        return lines

    def condition(
        self, keyword: str, value: Any, var: str, known: dict[str, frozenset[str]], path: list[str | int]
    ) -> str | None:
        """An expression true when `keyword` fails on `var`; "False" when it cannot; None if not one."""
        types = known[var]
        if keyword == "type":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not names or any(name not in TYPE_TESTS for name in names):
                raise UnsupportedSchema(f"type must name JSON types at {_where(path)}")
            passing = set(names) | ({"integer"} if "number" in names else set())
            passing |= {"number"} if "integer" in names else set()
            known[var] = types & frozenset(passing)
            if types <= passing and types <= set(names):
                return "False"  # an earlier `type` already narrowed it to these
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
            compare = f"len({var}) {'>' if keyword == 'maxLength' else '<'} {value}"
            return self.guarded(var, types, "string", compare)
        if keyword == "pattern":
            if not isinstance(value, str):
                raise UnsupportedSchema(f"pattern must be a string at {_where(path)}")
            search = self.constant(re.compile(value).search)  # jsonschema uses re.search, not re.match
            return self.guarded(var, types, "string", f"not {search}({var})")
        if keyword == "required":
            if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
                raise UnsupportedSchema(f"required must be an array of strings at {_where(path)}")
            if not value:
                return "False"
            # Every missing name is an error at this same path, so the first one's message is the same.
            missing = " or ".join(f"{name!r} not in {var}" for name in value)
            return self.guarded(var, types, "object", missing)
        if keyword == "additionalProperties":
            if not isinstance(value, bool):
                raise UnsupportedSchema(f"additionalProperties must be true or false at {_where(path)}")
            parent = self.parent(path)
            if "patternProperties" in parent:
                raise UnsupportedSchema(f"patternProperties is not supported at {_where(path)}")
            if value:
                return "False"
            declared = parent.get("properties", {})
            allowed = self.constant(frozenset(declared if isinstance(declared, Mapping) else ()))
            return self.guarded(var, types, "object", f"not {allowed}.issuperset({var})")
        return None

    def parent(self, path: list[str | int]) -> Mapping[str, Any]:
        found = list(_nodes(self.root, path[:-1]))[-1]
        return found

    def guarded(self, var: str, types: frozenset[str], name: str, failure: str) -> str:
        """`failure`, applied only when `var` is of JSON type `name`, as jsonschema's keywords are."""
        if name not in types:
            return "False"
        if types == {name}:
            return f"({failure})"
        return f"({TYPE_TESTS[name].format(var)} and ({failure}))"

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
        self,
        value: Any,
        path: list[str | int],
        var: str,
        known: dict[str, frozenset[str]],
        indent: int,
    ) -> list[str]:
        if not isinstance(value, Mapping):
            raise UnsupportedSchema(f"properties must be an object at {_where(path)}")
        if "object" not in known[var]:
            return []
        guard = known[var] != {"object"}
        pad = "    " * (indent + guard)
        lines: list[str] = []
        for name, subschema in value.items():
            item = self.fresh("v")
            inner = self.node(subschema, [*path, name], item, {**known, item: ANY_TYPE}, indent + guard + 1)
            if inner:
                lines.append(f"{pad}{item} = {var}.get({name!r}, _MISSING)")
                lines.append(f"{pad}if {item} is not _MISSING:")
                lines += inner
        if lines and guard:
            lines.insert(0, f"{'    ' * indent}if isinstance({var}, dict):")
        return lines

    def negation(
        self,
        value: Any,
        path: list[str | int],
        var: str,
        known: dict[str, frozenset[str]],
        pad: str,
        message: str,
    ) -> list[str]:
        """`not`: an error when the subschema finds none; its own errors are never reported."""
        if not isinstance(value, Mapping):
            raise UnsupportedSchema(f"boolean subschema at {_where(path)}")
        scratch = dict(known)  # what the subschema's own `type` learns must not leak out of it
        failures: list[str] = []
        for keyword, each in value.items():
            if keyword in ANNOTATIONS:
                continue
            failure = self.condition(keyword, each, var, scratch, [*path, keyword])
            if failure is None:
                break
            if failure != "False":
                failures.append(failure)
        else:
            valid = f"not ({' or '.join(f'({each})' for each in failures)})" if failures else "True"
            return [f"{pad}if {valid}:", f"{pad}    return {message}"]
        # A subschema with nested keywords becomes a function of its own, returning None when valid.
        helper = self.fresh("_not")
        body = self.node(value, path, "x", {"x": known[var]}, 1)
        self.functions.append([f"def {helper}(x):", *body, "    return None"])
        return [f"{pad}if {helper}({var}) is None:", f"{pad}    return {message}"]


def _where(path: list[str | int]) -> str:
    return "#/" + "/".join(str(step) for step in path)
