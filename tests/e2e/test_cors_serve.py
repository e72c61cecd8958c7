"""CORS on a real hypercorn process, read as raw header lines: each header name arrives once."""

from __future__ import annotations

import http.client
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.helpers.servers import Server, bearer, run_server

APP_ORIGIN = "https://app.example.com"
PORTAL = "/api/stripe/create-portal"
ALLOW_HEADERS = "authorization, content-type, idempotency-key, x-request-id"
# What hypercorn adds of its own; everything else is the service's.
HOST_HEADERS = {"date", "server"}


@pytest.fixture(name="server", scope="module")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from run_server("hypercorn", tmp_path_factory.mktemp("cors"), ALLOWED_ORIGINS=APP_ORIGIN)


def exchange(
    server: Server, method: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on a fresh connection: status, every header line as sent (names lower-cased), body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, PORTAL, body=body or None, headers={"X-Request-Id": "raw-1", **headers})
        response = connection.getresponse()
        data = response.read()
        lines = [(name.lower(), value) for name, value in response.getheaders()]
    finally:
        connection.close()
    return response.status, sorted(line for line in lines if line[0] not in HOST_HEADERS), data


def test_a_preflight_from_a_listed_origin_has_one_line_per_header(server: Server) -> None:
    """A browser rejects a preflight with two Allow-Origin lines; this one has one of each, and no body."""
    status, lines, data = exchange(
        server,
        "OPTIONS",
        {
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert (status, data) == (204, b"")
    assert lines == [
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-headers", ALLOW_HEADERS),
        ("access-control-allow-methods", "GET, POST, OPTIONS"),
        ("access-control-allow-origin", APP_ORIGIN),
        ("access-control-max-age", "600"),
        ("vary", "Origin"),
        ("x-request-id", "raw-1"),
    ]


def test_a_preflight_from_an_unlisted_origin_has_only_vary(server: Server) -> None:
    """An unlisted origin's preflight is a bare 204 with one `vary: Origin`."""
    status, lines, data = exchange(
        server, "OPTIONS", {"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"}
    )
    assert (status, data) == (204, b"")
    assert lines == [("vary", "Origin"), ("x-request-id", "raw-1")]


def test_a_post_from_a_listed_origin_has_one_line_per_header(server: Server) -> None:
    """The actual POST after the preflight: its JSON answer and each CORS header exactly once."""
    body = b'{"returnUrl":"https://app.example.com/account"}'
    headers = {"Origin": APP_ORIGIN, "Content-Type": "application/json", **bearer("user-cors-raw")}
    status, lines, data = exchange(server, "POST", headers, body)
    assert (status, data) == (
        400,
        b'{"error":"You don\'t have a billing account yet. Make a purchase first."}',
    )
    assert lines == [
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-origin", APP_ORIGIN),
        ("content-length", str(len(data))),
        ("content-type", "application/json"),
        ("vary", "Origin"),
        ("x-request-id", "raw-1"),
    ]
    assert max(Counter(name for name, _ in lines).values()) == 1
