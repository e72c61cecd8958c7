"""handlers.adapters.fetch: requests_fetch's timeout, and runtime_fetch over a stand-in for Pyodide's
JavaScript bridge.

tests/e2e/test_pyodide_job.py runs the same transport inside real Pyodide; here each call it makes on the
runtime is seen, so what it sends and how it reads the answer can be checked exactly.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from handlers.adapters.fetch import requests_fetch, runtime_fetch


class JsException(Exception):
    """pyodide.ffi.JsException: a JavaScript error, its `name` as JavaScript gives it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Answer:
    """A JavaScript Response: status, headers.entries(), arrayBuffer()."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.body = status, body
        self.headers = types.SimpleNamespace(entries=lambda: list(headers.items()))

    def arrayBuffer(self) -> Any:  # the JavaScript name
        return types.SimpleNamespace(to_bytes=lambda: self.body)


class Runtime:
    """The `js` module and pyodide.ffi as runtime_fetch uses them; records every fetch."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.answer: Answer | Exception = Answer(200, {}, b"")
        self.from_entries = object()
        self.js = types.SimpleNamespace(
            fetch=self.fetch,
            AbortSignal=types.SimpleNamespace(timeout=lambda ms: ("abort after", ms)),
            Object=types.SimpleNamespace(fromEntries=self.from_entries),
        )
        self.ffi = types.SimpleNamespace(
            JsException=JsException, run_sync=lambda value: value, to_js=self.to_js
        )

    def to_js(self, value: dict[str, Any], *, dict_converter: object) -> dict[str, Any]:
        assert dict_converter is self.from_entries  # a JavaScript object, not a Map, is what fetch reads
        return dict(value)

    def fetch(self, url: str, init: dict[str, Any]) -> Answer:
        self.sent.append((url, init))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture(name="runtime")
def _runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The stand-in, importable as `js` and `pyodide.ffi` for this test only."""
    runtime = Runtime()
    monkeypatch.setitem(sys.modules, "js", runtime.js)
    monkeypatch.setitem(sys.modules, "pyodide", types.SimpleNamespace(ffi=runtime.ffi))
    monkeypatch.setitem(sys.modules, "pyodide.ffi", runtime.ffi)
    yield runtime


def test_a_request_is_sent_with_its_method_headers_body_and_a_timeout_signal(runtime: Runtime) -> None:
    """The runtime's fetch gets the method, the headers, the body and an abort after the timeout in ms."""
    runtime.answer = Answer(201, {"content-type": "application/json", "request-id": "r1"}, b'{"ok":true}')
    fetch = runtime_fetch()
    answer = fetch("POST", "https://api.example.com/x", {"Authorization": "Bearer k"}, b"a=1", 2.5)
    assert runtime.sent == [
        (
            "https://api.example.com/x",
            {
                "method": "POST",
                "headers": {"Authorization": "Bearer k"},
                "signal": ("abort after", 2500),
                "body": b"a=1",
            },
        )
    ]
    assert answer == (201, {"content-type": "application/json", "request-id": "r1"}, b'{"ok":true}')
    assert type(answer[2]) is bytes


def test_without_a_body_none_is_sent_and_a_tiny_timeout_is_a_millisecond(runtime: Runtime) -> None:
    """A GET carries no body key at all; a timeout under a millisecond still gives the runtime 1 ms."""
    runtime_fetch()("GET", "https://api.example.com/y", {}, None, 0.0001)
    assert runtime.sent == [
        ("https://api.example.com/y", {"method": "GET", "headers": {}, "signal": ("abort after", 1)})
    ]


def test_the_given_send_is_used_instead_of_the_runtimes_fetch(runtime: Runtime) -> None:
    """runtime_fetch(send) sends through `send` (a host's own transport), not the global fetch."""
    seen: list[str] = []

    def send(url: str, init: dict[str, Any]) -> Answer:
        seen.append(url)
        return Answer(204, {}, b"")

    assert runtime_fetch(send)("DELETE", "https://api.example.com/z", {}, None, 1)[0] == 204
    assert (seen, runtime.sent) == (["https://api.example.com/z"], [])


def test_an_aborted_request_is_a_timeout_error_and_other_errors_pass_through(runtime: Runtime) -> None:
    """AbortSignal.timeout's TimeoutError becomes Python's TimeoutError; a network error stays itself."""
    fetch = runtime_fetch()
    runtime.answer = JsException("TimeoutError")
    with pytest.raises(TimeoutError, match=r"^no answer within 2\.5 s$"):
        fetch("GET", "https://api.example.com/slow", {}, None, 2.5)
    runtime.answer = JsException("TypeError")
    with pytest.raises(JsException, match="^TypeError$"):
        fetch("GET", "https://api.example.com/down", {}, None, 2.5)


def test_requests_fetch_turns_a_timeout_into_timeout_error_without_its_text() -> None:
    """A requests timeout is TimeoutError naming only the wait; its text (the URL) stays in the cause."""
    with responses.RequestsMock() as mocked:
        mocked.get(
            "https://api.example.com/slow", body=requests.ReadTimeout("https://api.example.com/slow?k=1")
        )
        with pytest.raises(TimeoutError) as caught:
            requests_fetch()("GET", "https://api.example.com/slow", {}, None, 2.5)
    assert str(caught.value) == "no answer within 2.5 s"
    assert type(caught.value.__cause__) is requests.ReadTimeout
