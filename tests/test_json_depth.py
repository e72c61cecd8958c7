"""handlers.json_depth: nesting measured before parsing, so that nothing recurses over a deep text."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from handlers.json_depth import MAX_DEPTH, TooDeep, loads, nesting_depth, too_deep


def arrays(depth: int) -> str:
    """`depth` arrays, each inside the one before: `[[...]]`."""
    return "[" * depth + "]" * depth


def objects(depth: int) -> str:
    """`depth` objects, each the value of the one before: `{"a":{"a":{}}}`."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("1", 0, id="scalar"),
        pytest.param('"[{"', 0, id="brackets-in-a-string"),
        pytest.param("[]", 1, id="array"),
        pytest.param('{"a": [1, {"b": []}], "c": {}}', 4, id="mixed"),
        pytest.param("[[], [], [[]]]", 3, id="siblings-do-not-add-up"),
        pytest.param(arrays(100), 100, id="arrays"),
        pytest.param(objects(100), 100, id="objects"),
        pytest.param('["[[[", "]]]]]]", [["{"]]]', 3, id="strings-ignored-closing-too"),
        pytest.param(r'["\"[[[[", []]', 2, id="escaped-quote-stays-in-the-string"),
        pytest.param(r'["\\", [[]]]', 3, id="escaped-backslash-ends-the-string"),
        pytest.param(r'["\\\"[[", []]', 2, id="escaped-backslash-then-quote"),
        pytest.param('["\u00e9\u2200[", [[]]]', 3, id="non-ascii"),
        pytest.param('[[["never closed', 3, id="unterminated-string"),
        pytest.param("]]]][[", 0, id="closing-first"),
        # json.loads reads a UTF-16 body's unpaired surrogate into the text; measuring must not trip on it.
        pytest.param('[["\ud800[", [[]]]]', 4, id="lone-surrogate"),
    ],
)
def test_nesting_depth(text: str, depth: int) -> None:
    """Arrays and objects count; brackets inside strings, escapes included, do not."""
    assert nesting_depth(text) == depth


@pytest.mark.parametrize("make", [arrays, objects], ids=["arrays", "objects"])
def test_depth_at_the_limit_is_parsed_one_more_is_refused(make: Callable[[int], str]) -> None:
    """Exactly MAX_DEPTH levels parse as json.loads would; MAX_DEPTH + 1 is refused before parsing."""
    at_limit, past = make(MAX_DEPTH), make(MAX_DEPTH + 1)
    assert (too_deep(at_limit), too_deep(past)) == (False, True)
    assert loads(at_limit) == json.loads(at_limit)
    assert loads(at_limit.encode()) == json.loads(at_limit)
    for text in (past, past.encode()):
        with pytest.raises(TooDeep):
            loads(text)


def test_a_lower_limit_is_kept() -> None:
    """loads(text, limit) refuses past that limit, not MAX_DEPTH's."""
    assert loads("[[]]", limit=2) == [[]]
    with pytest.raises(TooDeep, match="JSON nested more than 2 deep"):
        loads("[[[]]]", limit=2)


def test_too_deep_is_a_value_error() -> None:
    """Callers that refuse what json.loads refuses (ValueError) refuse deep text the same way."""
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} deep"):
        loads("[" * 5000)


def test_many_brackets_inside_strings_are_not_nesting() -> None:
    """Text with more brackets than the limit, all inside strings, is measured exactly and parsed."""
    text = json.dumps({"priceId": "[" * 1000, "mode": "{" * 1000, "quoted": '"[' * 500})
    assert not too_deep(text)
    assert loads(text)["priceId"] == "[" * 1000


def test_a_deep_text_that_is_also_broken_is_refused_before_parsing() -> None:
    """Unclosed nesting, as an attacker sends it, never reaches the parser."""
    with pytest.raises(TooDeep):
        loads(b"[" * 65536)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32-be"])
def test_other_encodings_are_measured_as_json_reads_them(encoding: str) -> None:
    """json.loads reads UTF-16 and UTF-32 bytes; they are measured after decoding, as it decodes them.

    In UTF-16 the byte 0x22 of U+2200 looks like a quote: counted byte by byte, it would hide the nesting
    that follows it inside a "string".
    """
    deep = ('["\u2200", ' + arrays(MAX_DEPTH + 1) + "]").encode(encoding)
    with pytest.raises(TooDeep):
        loads(deep)
    fine = ('["\u2200", ' + arrays(MAX_DEPTH - 1) + "]").encode(encoding)
    assert loads(fine) == json.loads(fine)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"[1,", id="truncated"),
        pytest.param(b"\xff\xfe\xfd", id="not-text"),
        pytest.param(b'\xef\xbb\xbf{"a": 1}', id="utf-8-bom"),
        pytest.param('{"a": "\u00e9"}'.encode("utf-16-be"), id="utf-16-be-no-bom"),
        pytest.param('["\u00e9"]'.encode("utf-32-le"), id="utf-32-le-no-bom"),
        pytest.param(b"{}", id="empty-object"),
        pytest.param(b'{"a":[1,{"b":null}],"c":"}"}', id="object"),
        pytest.param(b'[1,"]"]', id="array"),
        pytest.param(b' {"a": 1} ', id="spaces-around"),
        pytest.param(b'{"a": 1}\n', id="newline-after"),
        pytest.param(b'{"a": 1} }', id="extra-data"),
        pytest.param(b'{"a": 1}{"b": 2}', id="two-objects"),
        pytest.param(b'{"a": 1,}', id="trailing-comma"),
        pytest.param(b"{'a': 1}", id="single-quotes"),
        pytest.param(b'{"a": NaN, "b": -Infinity}', id="nan-and-infinity"),
        pytest.param(b'{"a": 1, "a": 2}', id="repeated-name"),
        pytest.param(b'{"a": "\\udc00"}', id="lone-surrogate-escape"),
        pytest.param('{"a": "\u00e9"}'.encode(), id="utf-8"),
        pytest.param(b'{"a": "\xe9"}', id="latin-1-byte"),
        pytest.param(b"[]]", id="extra-bracket"),
        pytest.param(b"{]", id="mismatched"),
        pytest.param(b"1", id="scalar"),
        pytest.param(b'"{"', id="string"),
        pytest.param('["\ud800"]'.encode("utf-16-le", "surrogatepass"), id="utf-16-lone-surrogate"),
    ],
)
def test_everything_else_is_json_loads(text: bytes) -> None:
    """Shallow text, as bytes or as str, gets json.loads' own answer: its value or its exact error."""
    for given in (text, text.decode("utf-8", "replace")):
        try:
            expected: object = json.loads(given)
        except ValueError as exc:
            expected = (type(exc), str(exc))
        try:
            got: object = loads(given)
        except ValueError as exc:
            got = (type(exc), str(exc))
        assert repr(got) == repr(expected)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param(b'{"a":[1,{"b":null}]}', {"a": [1, {"b": None}]}, id="object"),
        pytest.param(b'[1,"]"]', [1, "]"], id="array"),
        pytest.param('{"a": "\u00e9"}', {"a": "\u00e9"}, id="str"),
    ],
)
def test_one_bare_object_or_array_is_read_by_the_scanner_alone(
    text: str | bytes, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body that is one object or array, nothing around it, skips json.loads's whitespace handling."""
    calls: list[object] = []
    real = json.loads

    def counting(given: str | bytes) -> Any:
        calls.append(given)
        return real(given)

    monkeypatch.setattr(json, "loads", counting)
    assert (loads(text), calls) == (value, [])
    assert loads(b" [1] ") == [1] and calls == [" [1] "]
