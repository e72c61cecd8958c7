"""The schema files and the messages the service takes from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from handlers import contract as contract_module
from handlers import validator as validator_module
from handlers.contract import (
    CHECKOUT_REQUEST,
    NOT_JSON,
    PORTAL_REQUEST,
    Contract,
    schema_dir,
)
from handlers.http import HTTPError, Request
from handlers.validator import UnsupportedSchema
from tests.helpers.fakes import contract

PRICE = "Price ID is required"
URLS = "Success and cancel URLs are required"
MODE = (
    "Mode is required (either 'payment' for one-time payments or 'subscription' for recurring subscription)"
)
RETURN = "Return URL is required"
OBJECT = "Request body must be a JSON object"
GOOD = {
    "priceId": "price_123",
    "successUrl": "https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}",
    "cancelUrl": "https://app.example.com/pricing",
    "mode": "payment",
}


def without(*names: str, **changes: Any) -> dict[str, Any]:
    """GOOD less `names`, with `changes` applied."""
    body = {k: v for k, v in GOOD.items() if k not in names}
    body.update(changes)
    return body


CHECKOUT_CASES = [
    pytest.param({}, PRICE, id="empty-object"),
    pytest.param(without("priceId"), PRICE, id="no-price"),
    pytest.param(without(priceId=""), PRICE, id="empty-price"),
    pytest.param(without("priceId", "mode"), PRICE, id="no-price-no-mode"),
    pytest.param(without("priceId", "successUrl", "mode"), PRICE, id="price-first-of-all"),
    pytest.param(without(priceId=42), "Price ID must be a string", id="price-number"),
    pytest.param(without(priceId=None), PRICE, id="null-price-is-missing"),
    pytest.param(without(priceId=0), PRICE, id="zero-price-is-missing"),
    pytest.param(without(successUrl=None), URLS, id="null-url-is-missing"),
    pytest.param(without("mode", "cancelUrl", priceId=42), URLS, id="documented-checks-before-types"),
    pytest.param(without("mode", successUrl="ftp://x"), MODE, id="mode-before-url-format"),
    pytest.param(without(priceId="p" * 256), "Price ID must be at most 255 characters", id="price-long"),
    pytest.param(without("successUrl"), URLS, id="no-success"),
    pytest.param(without("cancelUrl"), URLS, id="no-cancel"),
    pytest.param(without(successUrl=""), URLS, id="empty-success"),
    pytest.param(without(cancelUrl=""), URLS, id="empty-cancel"),
    pytest.param(without("successUrl", "mode"), URLS, id="urls-before-mode"),
    pytest.param(without("cancelUrl", successUrl="nope"), URLS, id="missing-before-invalid"),
    pytest.param(
        without(successUrl="not a url"), "successUrl must be an absolute http or https URL", id="bad-success"
    ),
    pytest.param(
        without(cancelUrl="/relative"),
        "cancelUrl must be an absolute http or https URL",
        id="relative-cancel",
    ),
    pytest.param(
        without(cancelUrl="javascript:alert(1)"),
        "cancelUrl must be an absolute http or https URL",
        id="javascript-cancel",
    ),
    pytest.param(
        without(successUrl="ftp://x.example"), "successUrl must be an absolute http or https URL", id="ftp"
    ),
    pytest.param(
        without(successUrl="https://a.example/\n"),
        "successUrl must be an absolute http or https URL",
        id="trailing-newline",
    ),
    pytest.param(without(successUrl=7), "successUrl must be an absolute http or https URL", id="url-number"),
    pytest.param(
        without(successUrl="https://a.example/" + "x" * 5000),
        "successUrl must be at most 5000 characters",
        id="url-too-long",
    ),
    pytest.param(without("mode"), MODE, id="no-mode"),
    pytest.param(without(mode=""), MODE, id="empty-mode"),
    pytest.param(without(mode="setup"), MODE, id="unknown-mode"),
    pytest.param(without(mode="PAYMENT"), MODE, id="mode-case"),
    pytest.param(without(mode=1), MODE, id="mode-number"),
    pytest.param([], OBJECT, id="array"),
    pytest.param("price_123", OBJECT, id="string"),
    pytest.param(None, OBJECT, id="null"),
]


@pytest.mark.parametrize(("body", "message"), CHECKOUT_CASES)
def test_checkout_messages(body: Any, message: str) -> None:
    """Each invalid checkout body gets the documented (or our own) message, in documented order."""
    assert contract().first_error(CHECKOUT_REQUEST, body) == message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(GOOD, id="template"),
        pytest.param(without(mode="subscription"), id="subscription"),
        pytest.param(without(successUrl="http://localhost:3000/ok", extra=1), id="localhost-extra-field"),
        pytest.param(without(cancelUrl="https://[::1]:8443/c#frag"), id="ipv6"),
    ],
)
def test_checkout_valid(body: dict[str, Any]) -> None:
    """Valid bodies, including the {CHECKOUT_SESSION_ID} template and unknown fields, pass."""
    assert contract().first_error(CHECKOUT_REQUEST, body) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({}, RETURN, id="missing"),
        pytest.param({"returnUrl": ""}, RETURN, id="empty"),
        pytest.param({"returnUrl": "nope"}, "returnUrl must be an absolute http or https URL", id="bad"),
        pytest.param({"returnUrl": None}, RETURN, id="null-is-missing"),
        pytest.param({"returnUrl": False}, RETURN, id="false-is-missing"),
        pytest.param({"returnUrl": 7}, "returnUrl must be an absolute http or https URL", id="number"),
        pytest.param([1], OBJECT, id="array"),
    ],
)
def test_portal_messages(body: Any, message: str) -> None:
    """Each invalid portal body gets its message."""
    assert contract().first_error(PORTAL_REQUEST, body) == message


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"\xff\xfe", b"{'a': 1}", b"NaN1"],
    ids=["empty", "truncated", "binary", "quotes", "nan"],
)
def test_read_rejects_non_json(raw: bytes) -> None:
    """A body that is not JSON is a 400 with our message, not a 500."""
    with pytest.raises(HTTPError) as caught:
        contract().read(Request("POST", "/", body=raw), CHECKOUT_REQUEST)
    assert (caught.value.status, caught.value.message) == (400, NOT_JSON)


def test_read_returns_the_body() -> None:
    """A valid body comes back parsed, unchanged."""
    raw = json.dumps(GOOD).encode()
    assert contract().read(Request("POST", "/", body=raw), CHECKOUT_REQUEST) == GOOD


def test_every_schema_is_valid_2020_12() -> None:
    """Each file in schemas/ is a valid JSON Schema 2020-12 document with an $id equal to its name."""
    paths = sorted(path for path in schema_dir().glob("*.json") if path.name != "openapi.json")
    assert len(paths) >= 6
    for path in paths:
        schema = json.loads(path.read_text("utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == path.name


def test_documented_messages_live_in_the_schema_files() -> None:
    """The contract's messages are written in the schema files themselves, not only in code."""
    text = (schema_dir() / CHECKOUT_REQUEST).read_text("utf-8") + (schema_dir() / PORTAL_REQUEST).read_text(
        "utf-8"
    )
    for message in (PRICE, URLS, MODE, RETURN):
        assert json.dumps(message) in text


def test_unmapped_errors_fall_back(tmp_path: Path) -> None:
    """An error no errorMessage covers gets a neutral message instead of jsonschema's wording."""
    (tmp_path / "s.json").write_text(json.dumps({"type": "object", "required": ["a"]}))
    assert Contract.load(tmp_path).first_error("s.json", {}) == "Request body is invalid"


def test_each_schema_compiles_on_first_use_only() -> None:
    """A schema no request uses is never compiled: one the compiler refuses breaks only its own use."""
    checkout = json.loads((schema_dir() / CHECKOUT_REQUEST).read_text("utf-8"))
    lazy = Contract({CHECKOUT_REQUEST: checkout, "odd.json": {"type": "object", "minProperties": 1}})
    raw = json.dumps(without("priceId")).encode()

    with pytest.raises(HTTPError) as caught:
        lazy.read(Request("POST", "/", body=raw), CHECKOUT_REQUEST)
    assert (caught.value.status, caught.value.message) == (400, PRICE)
    with pytest.raises(UnsupportedSchema, match="minProperties"):
        lazy.first_error("odd.json", {})


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 5000, id="nested-too-deep"),
        pytest.param(b'{"priceId": ' + b"[" * 64 + b"]" * 64 + b"}", id="nested-past-the-limit"),
        pytest.param(b'{"priceId": "\\udc00"}', id="lone-surrogate"),
        pytest.param(b'{"successUrl": "https://a.example/\\ud800"}', id="lone-high-surrogate"),
    ],
)
def test_bodies_no_consumer_can_read_are_400(raw: bytes) -> None:
    """Nesting past the limit (valid JSON or not) and lone surrogates are a 400 of ours, never a 500."""
    with pytest.raises(HTTPError) as caught:
        contract().read(Request("POST", "/", body=raw), CHECKOUT_REQUEST)
    assert (caught.value.status, caught.value.message) == (400, NOT_JSON)


def test_escaped_characters_that_are_valid_pass() -> None:
    """A proper escaped pair (an emoji) is valid text and passes."""
    raw = json.dumps({**GOOD, "cancelUrl": "https://app.example.com/\U0001f600"}).encode()
    assert (
        contract().read(Request("POST", "/", body=raw), CHECKOUT_REQUEST)["cancelUrl"].endswith("\U0001f600")
    )


def padded(size: int, body: dict[str, Any]) -> bytes:
    """`body` with a "pad" field that makes its JSON exactly `size` bytes."""
    bare = json.dumps({**body, "pad": ""}).encode()
    return json.dumps({**body, "pad": "x" * (size - len(bare))}).encode()


def test_large_bodies_are_checked_like_small_ones() -> None:
    """A body over 2 KB gets the same verdict as a small one, every time it is read."""
    fresh = Contract.load()
    invalid = padded(2049, without("priceId"))
    valid = padded(2049, GOOD)
    for _ in range(2):
        with pytest.raises(HTTPError) as caught:
            fresh.read(Request("POST", "/", body=invalid), CHECKOUT_REQUEST)
        assert (caught.value.status, caught.value.message) == (400, PRICE)
        assert fresh.read(Request("POST", "/", body=valid), CHECKOUT_REQUEST) == json.loads(valid)


@pytest.mark.parametrize("installed", [True, False], ids=["wheel", "checkout"])
def test_schema_dir_prefers_the_wheels_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: bool
) -> None:
    """Installed from the wheel, the schemas are handlers/_schemas; in a checkout, schemas/ beside it."""
    package = tmp_path / "handlers"
    package.mkdir()
    if installed:
        (package / "_schemas").mkdir()
    monkeypatch.setattr(contract_module, "__file__", str(package / "contract.py"))
    assert schema_dir() == (package / "_schemas" if installed else tmp_path / "schemas")


def test_error_bodies_are_checked_each_time() -> None:
    """A valid error body does not vouch for the next, invalid one."""
    fresh = Contract.load()
    assert fresh.first_error("error.json", {"error": "Price ID is required"}) is None
    assert fresh.first_error("error.json", {"error": ""}) == "Request body is invalid"
    assert fresh.first_error("error.json", {"error": "Price ID is required"}) is None


def test_a_schema_is_compiled_once_however_often_it_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first use compiles; every later read and check of the same schema reuses that validator."""
    compiled: list[str] = []
    real = validator_module.compile_schema

    def counting(schema: Any) -> Any:
        compiled.append(schema["$id"])
        return real(schema)

    monkeypatch.setattr(validator_module, "compile_schema", counting)
    fresh = Contract.load()
    for _ in range(2):
        assert fresh.read(Request("POST", "/", body=json.dumps(GOOD).encode()), CHECKOUT_REQUEST) == GOOD
        assert fresh.first_error(CHECKOUT_REQUEST, {}) == PRICE
    assert compiled == [CHECKOUT_REQUEST]
