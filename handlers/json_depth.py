"""JSON nesting measured before parsing: untrusted text nested too deep is refused before anything recurses.

Under Pyodide the parser's recursion runs on the JavaScript runtime's stack, which overflows long before
Python's recursion limit (a few thousand levels on Deno, more on Node): a fatal error that ends the whole
worker, not a RecursionError anyone could catch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

# Bodies, sessions and token headers nest a few levels, Stripe's objects about ten.
MAX_DEPTH = 64

# A JSON string, escapes included; an unterminated one runs to the end, as it does for the parser.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_OPENING = ("{", "[")
_CLOSING = ("}", "]")
# First bytes after which json.detect_encoding may answer other than UTF-8: a BOM, or UTF-16/32's NUL.
_NOT_PLAIN_UTF8 = (b"", b"\0", b"\xef", b"\xfe", b"\xff")
# The scanner json.loads runs, as json.loads builds it (typeshed does not list the attribute).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


class TooDeep(ValueError):
    """JSON text nested deeper than the limit: a ValueError, like any text json.loads refuses."""


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, read as JSON; brackets inside strings do not count."""
    # UTF-8 keeps every ASCII character a byte of its own, so quotes and brackets are found byte by byte.
    brackets = _STRING.sub(b"", text.encode("utf-8", "surrogatepass")).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when `text` nests arrays and objects more than `limit` deep; two counts for shallow text."""
    return text.count("[") + text.count("{") > limit and nesting_depth(text) > limit


def loads(text: str | bytes, limit: int = MAX_DEPTH) -> Any:
    """json.loads, but TooDeep, before parsing, for text nested more than `limit` deep."""
    if isinstance(text, bytes):
        # Decoded as json.loads decodes bytes (UTF-8, -16 or -32), then measured: a UTF-16 unit can hold
        # a byte that looks like a quote.
        text = text.decode(_encoding(text), "surrogatepass")
    if too_deep(text, limit):
        raise TooDeep(f"JSON nested more than {limit} deep")
    if text[-1:] in _CLOSING and text[:1] in _OPENING:
        # The scanner json.loads itself calls, without its whitespace handling around it: a third of the
        # cost of parsing a request body. Anything else (spaces around, an error) takes json.loads's path.
        try:
            found, end = _scan(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return found
    return json.loads(text)


def _encoding(data: bytes) -> str:
    """json.detect_encoding's answer, at once for what no BOM and no NUL byte starts: UTF-8."""
    if data[:1] not in _NOT_PLAIN_UTF8 and data[1:2] != b"\0":
        return "utf-8"
    return json.detect_encoding(data)
