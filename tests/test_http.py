"""handlers.http: Request's header and cookie lookups, and HTTPError's fields."""

from __future__ import annotations

import pytest

from handlers.http import Headers, HTTPError, Request


def request(*headers: tuple[str, str]) -> Request:
    """A GET request with `headers`, names already lower-case as the ASGI shim gives them."""
    return Request("GET", "/", headers=headers)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("x-request-id", id="lower"),
        pytest.param("X-Request-Id", id="title"),
        pytest.param("X-REQUEST-ID", id="upper"),
    ],
)
def test_header_lookup_is_case_insensitive(name: str) -> None:
    """header() finds a header whatever the case of the name asked for."""
    req = request(("content-type", "application/json"), ("x-request-id", "req-1"))
    assert req.header(name) == "req-1"


def test_header_first_value_wins() -> None:
    """header() answers the first of repeated headers."""
    assert request(("accept", "text/html"), ("accept", "application/json")).header("Accept") == "text/html"


def test_header_missing_is_none() -> None:
    """header() of a header not sent is None, and an empty value is kept as empty."""
    req = request(("authorization", ""))
    assert req.header("cookie") is None
    assert req.header("Authorization") == ""


@pytest.mark.parametrize(
    ("headers", "cookies"),
    [
        pytest.param((), {}, id="no-cookie-header"),
        pytest.param((("cookie", "a=1"),), {"a": "1"}, id="one"),
        pytest.param(
            (("cookie", "a=1; b=2;c=3"),), {"a": "1", "b": "2", "c": "3"}, id="several-in-one-header"
        ),
        pytest.param(
            (("cookie", "a=1; b=2"), ("x-other", "z=9"), ("cookie", "c=3")),
            {"a": "1", "b": "2", "c": "3"},
            id="several-cookie-headers",
        ),
        pytest.param((("cookie", "s=%7B%22k%22%3A%22v%20w%22%7D"),), {"s": '{"k":"v w"}'}, id="url-decoded"),
        pytest.param((("cookie", "p=a+b"),), {"p": "a+b"}, id="plus-is-not-space"),
        pytest.param((("cookie", "q=100%"),), {"q": "100%"}, id="stray-percent-kept"),
        pytest.param((("cookie", 'q="hello world"'),), {"q": "hello world"}, id="quoted"),
        pytest.param((("cookie", 'q="%22x%22"'),), {"q": '"x"'}, id="quoted-then-decoded"),
        pytest.param((("cookie", "a=1; a=2"),), {"a": "1"}, id="first-repeat-wins"),
        pytest.param(
            (("cookie", "a=1"), ("cookie", "a=2")), {"a": "1"}, id="first-repeat-wins-across-headers"
        ),
        pytest.param((("cookie", "flag; a=1; ; =x"),), {"a": "1"}, id="pairs-without-name-or-equals"),
        pytest.param((("cookie", "flag"), ("cookie", "a=1")), {"a": "1"}, id="no-equals-then-cookie"),
        pytest.param((("cookie", "e="),), {"e": ""}, id="empty-value"),
        pytest.param((("cookie", "t=base64-eyJ9=="),), {"t": "base64-eyJ9=="}, id="equals-in-value"),
        pytest.param((("cookie", "  a=1  ;b=2 ;  "),), {"a": "1", "b": "2"}, id="spaces"),
        pytest.param((("set-cookie", "a=1"),), {}, id="set-cookie-ignored"),
    ],
)
def test_cookies(headers: Headers, cookies: dict[str, str]) -> None:
    """cookies() reads every Cookie header, URL-decodes values, and keeps the first of a repeated name."""
    assert request(*headers).cookies() == cookies


def test_http_error_carries_its_fields() -> None:
    """HTTPError keeps status and message, and its str() is the message."""
    error = HTTPError(401, "You must be logged in")
    assert (error.status, error.message, str(error)) == (
        401,
        "You must be logged in",
        "You must be logged in",
    )
