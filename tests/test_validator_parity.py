"""The compiled validators answer as jsonschema's first error and its errorMessage do, body for body.

The bodies: every case in contract_tests/cases.json, every body literal in the test suites, and a
deterministic generated corpus per schema (each field missing, null, false, 0, empty, of the wrong type,
too long, a bad URL, unicode, and random combinations of those).
"""

from __future__ import annotations

import ast
import itertools
import json
import random
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from handlers.contract import schema_dir
from handlers.validator import Validator, compile_schema

ROOT = Path(__file__).resolve().parent.parent
MISSING = object()
# One valid instance per schema file: every variant below starts from it.
SEEDS: dict[str, dict[str, Any]] = {
    "create-checkout.request.json": {
        "priceId": "price_123",
        "successUrl": "https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}",
        "cancelUrl": "https://app.example.com/pricing",
        "mode": "payment",
    },
    "create-portal.request.json": {"returnUrl": "https://app.example.com/account"},
    "create-checkout.response.json": {"url": "https://checkout.stripe.com/c/pay/cs_test_1"},
    "create-portal.response.json": {"url": "https://billing.stripe.com/p/session/test_1"},
    "error.json": {"error": "Price ID is required"},
    "health.response.json": {"status": "ok", "profiles": "unavailable"},
    "webhook.response.json": {"received": True, "outcome": "applied"},
    "openapi.response.json": {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}},
    "schema.response.json": {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "error.json"},
}
URLS = [
    "https://app.example.com/ok",
    "http://localhost:3000/ok",
    "https://[::1]:8443/c#frag",
    "https://a.example/ok?session_id={CHECKOUT_SESSION_ID}",
    "https://1.2.3.4/",
    "http://a.example#",
    "https://a.example:80/ok",
    "https://a.example:99999",
    "https://a.example:123456",
    "https://a.example:",
    "ftp://x.example",
    "HTTPS://A.EXAMPLE",
    "Https://a.example",
    "https://",
    "https:/a.example",
    "https://a b.example",
    "https://a.example/\n",
    "https://a.example\n",
    "https://a.example/ x",
    "https://a.example/\t",
    "https://a.example/\u00a0",
    "https://a.example/\u2028",
    "https://a.example/\u3000",
    "https://-a.example",
    "https://a-.example",
    "https://a..example",
    "https://a_b.example",
    "https://a.example\\@b",
    "https://[zz]/",
    "https://[]/",
    "javascript:alert(1)",
    "//a.example",
    "/relative",
    "account",
    "https://a.example/\U0001f600",
    "https://ex\u00e4mple.com",
    "\ufeffhttps://a.example",
    " https://a.example",
    "https://a.example/\udc00",
    "https://" + "a" * 63 + ".example",
    "https://" + "a" * 64 + ".example",
]
SCALARS: list[Any] = [
    None,
    False,
    True,
    0,
    0.0,
    -0.0,
    1,
    -1,
    1.0,
    1.5,
    2**53 + 1,
    1e308,
    "",
    " ",
    "0",
    "false",
    "null",
    "x",
    "price_123",
    "payment",
    "subscription",
    "PAYMENT",
    "payment ",
    "setup",
    "ok",
    "unavailable",
    "applied",
    "ignored",
    "3.1.0",
    "3.1",
    "3.1.0\n",
    "3.10.7",
    "error.json",
    "Error.json",
    "../x.json",
    "https://json-schema.org/draft/2020-12/schema",
    "\U0001f600",
    "\u00e9",
]
CONTAINERS: list[Any] = [[], [""], [None], [0], ["payment"], {}, {"a": 1}, {"title": "t", "version": "1"}]


def lengths() -> list[str]:
    """Strings either side of every maxLength and minLength in the schemas, in code points."""
    found: list[str] = []
    for limit in (1, 255, 5000):
        for size in (limit - 1, limit, limit + 1):
            found += ["p" * size, "\U0001f600" * size]
            pad = max(size - len("https://a.example/"), 0)
            found += ["https://a.example/" + "x" * pad, "https://a.example/" + "\U0001f600" * pad]
    return found


POOL: list[Any] = SCALARS + URLS + CONTAINERS + lengths()


class Reference:
    """The reference: jsonschema's first error, and the errorMessage ajv-errors shows for it."""

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self.schemas = dict(schemas)
        self.validators: dict[str, Draft202012Validator] = {}
        for name, schema in schemas.items():
            Draft202012Validator.check_schema(schema)
            self.validators[name] = Draft202012Validator(schema)

    def first_error(self, name: str, instance: Any) -> str | None:
        """The message of jsonschema's first error in `instance`, or None when it is valid."""
        error = next(self.validators[name].iter_errors(instance), None)
        if error is None:
            return None
        # Written out here, not imported: the nearest errorMessage that covers the failing keyword.
        path = list(error.absolute_schema_path)
        keyword = path[-1] if path else ""
        node: Any = self.schemas[name]
        nodes = [node]
        for step in path[:-1]:
            node = node[step]
            if isinstance(node, Mapping):
                nodes.append(node)
        for depth, each in enumerate(reversed(nodes)):
            text = each.get("errorMessage")
            if isinstance(text, str):
                return text
            if depth == 0 and isinstance(text, Mapping) and isinstance(text.get(keyword), str):
                return str(text[keyword])
        return "Request body is invalid"


@cache
def contract() -> Reference:
    """The reference over every schema file."""
    return Reference({name: json.loads((schema_dir() / name).read_text("utf-8")) for name in names()})


@cache
def compiled(name: str) -> Validator:
    """The compiled validator for one schema file."""
    return compile_schema(json.loads((schema_dir() / name).read_text("utf-8")))


def names() -> list[str]:
    """Every schema file (the OpenAPI document is not one)."""
    return sorted(path.name for path in schema_dir().glob("*.json") if path.name != "openapi.json")


def mismatches(name: str, instances: list[Any]) -> list[str]:
    """Each instance whose compiled answer differs from the reference's, with both answers."""
    check = compiled(name)
    found = []
    for instance in instances:
        expected, actual = contract().first_error(name, instance), check(instance)
        if expected != actual:
            found.append(f"{name}: {instance!r:.200} -> jsonschema {expected!r}, compiled {actual!r}")
    return found


def test_seeds_are_valid() -> None:
    """Every seed is valid by both, so that its variants sit right at the edge of validity."""
    assert sorted(SEEDS) == names()
    for name, seed in SEEDS.items():
        assert contract().first_error(name, seed) is None
        assert compiled(name)(seed) is None


def case_bodies() -> list[Any]:
    """Every request body and every expected answer body in contract_tests/cases.json."""
    cases = json.loads((ROOT / "contract_tests" / "cases.json").read_text("utf-8"))["cases"]
    bodies: list[Any] = []
    for case in cases:
        if "json" in case["request"]:
            bodies.append(case["request"]["json"])
        if "raw" in case["request"]:
            try:
                bodies.append(json.loads(case["request"]["raw"]))
            except ValueError:
                pass
        if "body" in case["expect"]:
            bodies.append(case["expect"]["body"])
    return bodies


def test_contract_cases() -> None:
    """Every body of the contract suite, against every schema file."""
    bodies = case_bodies()
    assert len(bodies) > 60
    problems = [problem for name in names() for problem in mismatches(name, bodies)]
    assert problems == []


def test_schema_files_themselves() -> None:
    """The schema files and the OpenAPI document, as the bodies GET /<file> and /openapi.json answer."""
    documents = [json.loads(path.read_text("utf-8")) for path in sorted(schema_dir().glob("*.json"))]
    problems = [problem for name in names() for problem in mismatches(name, documents)]
    assert problems == []


def literal_bodies() -> list[Any]:
    """Every dict literal in the test suites that names a field of a schema, and JSON bytes literals."""
    fields = {field for seed in SEEDS.values() for field in seed} | {"pad", "extra"}
    found: list[Any] = []
    for path in sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "contract_tests").rglob("*.py")]):
        if "node_modules" in path.parts:
            continue
        tree = ast.parse(path.read_text("utf-8"))
        constants = module_constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                value = evaluate(node, constants)
                if isinstance(value, dict) and fields & set(value):
                    found.append(value)
            elif isinstance(node, ast.Constant) and isinstance(node.value, bytes) and node.value[:1] == b"{":
                try:
                    found.append(json.loads(node.value))
                except ValueError:
                    pass
    return found


def module_constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level NAME = <literal> assignments, so that {**BODY, ...} bodies can be rebuilt."""
    constants: dict[str, Any] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                value = evaluate(statement.value, constants)
                if value is not MISSING:
                    constants[target.id] = value
    return constants


def evaluate(node: ast.expr, constants: Mapping[str, Any]) -> Any:
    """A literal's value, reading names of module constants and `**` spreads; MISSING when not literal."""
    if isinstance(node, ast.Name):
        return constants.get(node.id, MISSING)
    if isinstance(node, ast.Dict):
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            item = evaluate(value, constants)
            if item is MISSING:
                return MISSING
            if key is None:
                if not isinstance(item, dict):
                    return MISSING
                result.update(item)
                continue
            name = evaluate(key, constants)
            if not isinstance(name, str):
                return MISSING
            result[name] = item
        return result
    if isinstance(node, ast.List):
        items = [evaluate(each, constants) for each in node.elts]
        return MISSING if any(item is MISSING for item in items) else items
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return MISSING


def test_bodies_of_the_test_suites() -> None:
    """Every checkout, portal and answer body written in tests/ and contract_tests/, against every schema."""
    bodies = literal_bodies()
    assert len(bodies) > 30
    problems = [problem for name in names() for problem in mismatches(name, bodies)]
    assert problems == []


def key_paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path in a nested object: ("info",), ("info", "title"), ..."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from key_paths(item, (*prefix, key))


def changed(seed: dict[str, Any], changes: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """A deep copy of `seed` with each key path set to a value, or removed for MISSING."""
    result: dict[str, Any] = json.loads(json.dumps(seed))
    for path, value in changes.items():
        parent: Any = result
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if value is MISSING:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    return result


def corpus(name: str) -> list[Any]:
    """Several thousand instances near and far from the seed of one schema file, the same every run."""
    seed = SEEDS[name]
    paths = [*key_paths(seed), ("extra",), ("PriceId",)]
    shortlist = [MISSING, None, False, 0, 0.0, "", True, 1, "x", [], {}, "ftp://x.example", "\U0001f600"]
    instances: list[Any] = list(POOL)  # not an object at all
    instances += [changed(seed, {path: value}) for path in paths for value in [MISSING, *POOL]]
    # Every field missing or falsy at once, in every combination (the documented "!field" checks).
    top = [path for path in paths if len(path) == 1][:5]
    for values in itertools.product([MISSING, None, False, 0, "", "keep"], repeat=len(top)):
        instances.append(changed(seed, {p: v for p, v in zip(top, values, strict=True) if v != "keep"}))
    for first, second in itertools.combinations(paths, 2):
        instances += [changed(seed, {first: a, second: b}) for a in shortlist for b in shortlist]
    chance = random.Random(f"validator-parity-{name}")
    for _ in range(2000):
        changes = {}
        for path in paths:
            roll = chance.random()
            if roll < 0.25:
                changes[path] = MISSING
            elif roll < 0.6:
                changes[path] = chance.choice(POOL)
        instances.append(changed(seed, changes))
    instances += [other for other in SEEDS.values() if other is not seed]
    return instances


@pytest.mark.parametrize("name", names())
def test_generated_corpus(name: str) -> None:
    """Thousands of generated instances per schema file get the same first message from both."""
    instances = corpus(name)
    assert len(instances) > 3000
    assert mismatches(name, instances) == []


# Each keyword the compiler implements, in the forms schemas/ does not use yet, so that their semantics
# are proven before a schema edit relies on them.
SYNTHETIC: list[dict[str, Any]] = [
    {"enum": [0]},
    {"enum": [1, "1"]},
    {"enum": [1.5, None]},
    {"enum": []},
    {"const": 0},
    {"const": False},
    {"const": None},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "null"},
    {"type": "array"},
    {"type": ["string", "null"], "minLength": 2, "maxLength": 3},
    {"type": "number", "allOf": [{"type": "integer"}, {"type": "integer", "errorMessage": "again"}]},
    {"type": "string", "allOf": [{"type": "string", "maxLength": 1, "errorMessage": "short"}]},
    {"maxLength": 0, "errorMessage": {"maxLength": "empty"}},
    {"minLength": 1, "pattern": "b", "errorMessage": {"pattern": "has b"}},
    {"pattern": "^a|z$", "errorMessage": "a..z"},
    {"required": []},
    {"required": ["a", "b"], "errorMessage": {"required": "a and b"}},
    {"additionalProperties": True, "properties": {"a": {"const": 1}}},
    {"additionalProperties": False},
    {"properties": {"a": {"type": "string"}}, "additionalProperties": False, "errorMessage": "outer"},
    {"properties": {"a": {"not": {"type": "string"}}, "b": {"not": {}}}},
    {"not": {"allOf": [{"required": ["a"]}, {"properties": {"a": {"enum": [0]}}}]}, "errorMessage": "no"},
    {"not": {"not": {"type": "object", "required": ["a"]}}},
    {"not": {"type": "string"}, "maxLength": 1, "required": ["a"]},
    {"properties": {"a": {"properties": {"b": {"type": "integer", "errorMessage": "inner"}}}}},
    {"allOf": [{"properties": {"a": {"type": "string"}}}, {"errorMessage": "x", "required": ["a"]}]},
    {"properties": {"a": {"description": "an annotation only"}, "b": {"type": "string"}}},
    {"properties": {"a": {"pattern": "^x"}, "b": {"pattern": "^p"}}},
    {"properties": {"a": {"properties": {"b": {"pattern": "^p"}}, "pattern": "^x"}, "b": {"maxLength": 1}}},
    {"properties": {"a": {"properties": {"b": {}}, "additionalProperties": False}}},
    {"type": "integer", "allOf": [{"type": "number"}, {"type": "string"}]},
    {"type": ["number", "string"], "allOf": [{"type": "integer"}, {"minLength": 1}]},
    {"errorMessage": "outer", "properties": {"a": {"errorMessage": {"type": "inner"}, "type": "string"}}},
    {"errorMessage": "outer", "properties": {"a": {"errorMessage": {"type": "t"}, "minLength": 2}}},
    {"errorMessage": {"required": "r"}, "required": ["a"], "properties": {"a": {"type": "string"}}},
    {"errorMessage": {"minLength": "short"}, "allOf": [{"minLength": 2}, {"maxLength": 3}]},
    {"not": {"properties": {"a": {"type": "string"}}}, "errorMessage": "n"},
    {"not": {"additionalProperties": True}},
    {"not": {"required": [], "description": "d"}},
    {"not": {"const": 1, "type": "integer"}},
    {
        "properties": {"a": {"not": {"properties": {"b": {"const": 1}}}}},
        "not": {"allOf": [{"required": ["b"]}]},
    },
]


@pytest.mark.parametrize("schema", SYNTHETIC, ids=[json.dumps(each) for each in SYNTHETIC])
def test_each_keyword_form(schema: dict[str, Any]) -> None:
    """Every keyword form the compiler accepts answers as jsonschema does, on the whole value pool."""
    reference = Reference({"s.json": schema})
    check = compile_schema(schema)
    objects = [{"a": value} for value in POOL] + [{"a": 0, "b": value} for value in POOL]
    objects += [{"a": {"b": value}} for value in POOL]
    problems = [
        f"{value!r:.120}: jsonschema {reference.first_error('s.json', value)!r}, compiled {check(value)!r}"
        for value in [*POOL, *objects]
        if reference.first_error("s.json", value) != check(value)
    ]
    assert problems == []
