"""The one HTTP transport the adapters send through: `requests` on CPython, the host's `fetch` at the edge.

A `Fetch` raises `TimeoutError` when no answer came within its timeout, and any other exception when
none came back for another reason; its callers treat every exception as "no answer".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Fetch(Protocol):
    """Sends one HTTP request and returns (status, headers, body); raises when none came back."""

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]: ...


def requests_fetch() -> Fetch:
    """A Fetch over a pooled `requests` session (imports requests): the transport on CPython."""
    import requests

    http = requests.Session()

    def fetch(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        try:
            response = http.request(method, url, headers=dict(headers), data=body, timeout=timeout)
        except requests.Timeout as exc:
            # The text is left behind: it can echo the URL. The cause keeps it for a debugger.
            raise TimeoutError(f"no answer within {timeout} s") from exc
        return response.status_code, response.headers, response.content

    return fetch


def runtime_fetch(send: Any = None) -> Fetch:
    """A Fetch over the JavaScript runtime's `fetch` (or `send`), made synchronous with Pyodide's JSPI.

    Only inside Pyodide, and only in calls entered through a promising call (`callPromising` in
    JavaScript, or a host that enters Python that way); each request is aborted after its timeout.
    """
    import js  # type: ignore[import-not-found]
    from pyodide.ffi import JsException, run_sync, to_js  # type: ignore[import-not-found]

    target = send if send is not None else js.fetch

    def fetch(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        init: dict[str, Any] = {
            "method": method,
            "headers": dict(headers),
            "signal": js.AbortSignal.timeout(max(1, int(timeout * 1000))),
        }
        if body is not None:
            init["body"] = body
        try:
            response = run_sync(target(url, to_js(init, dict_converter=js.Object.fromEntries)))
            content = run_sync(response.arrayBuffer()).to_bytes()
        except JsException as exc:
            # AbortSignal.timeout rejects with a DOMException named "TimeoutError".
            if exc.name == "TimeoutError":
                raise TimeoutError(f"no answer within {timeout} s") from exc
            raise
        answered = {str(key): str(value) for key, value in response.headers.entries()}
        return int(response.status), answered, bytes(content)

    return fetch
