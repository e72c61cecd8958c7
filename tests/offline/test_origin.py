"""handlers.offline.origin: the origin a request arrived at, for the stand-in's links."""

from __future__ import annotations

import pytest

from handlers.http import Request
from handlers.offline.origin import request_origin


def at(*headers: tuple[str, str]) -> Request:
    """A request with these (lower-case) headers."""
    return Request("POST", "/api/stripe/create-checkout", headers)


@pytest.mark.parametrize(
    ("request_", "public_url", "trust", "origin"),
    [
        pytest.param(at(("host", "127.0.0.1:8020")), None, False, "http://127.0.0.1:8020", id="host"),
        pytest.param(at(("host", "[::1]:8020")), None, False, "http://[::1]:8020", id="ipv6-host"),
        pytest.param(
            at(
                ("host", "127.0.0.1:8020"),
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-proto", "https"),
            ),
            None,
            False,
            "http://127.0.0.1:8020",
            id="forwarded-ignored-untrusted",
        ),
        pytest.param(
            at(
                ("host", "10.0.0.5:8000"),
                ("x-forwarded-host", "billing.example.com, proxy.internal"),
                ("x-forwarded-proto", "https"),
            ),
            None,
            True,
            "https://billing.example.com",
            id="x-forwarded-trusted",
        ),
        pytest.param(
            at(("host", "10.0.0.5:8000"), ("x-forwarded-proto", "https")),
            None,
            True,
            "https://10.0.0.5:8000",
            id="proto-only",
        ),
        pytest.param(
            at(
                ("host", "10.0.0.5"),
                ("forwarded", 'for=1.2.3.4;proto=https;host="pay.example.com", for=5.6.7.8'),
            ),
            None,
            True,
            "https://pay.example.com",
            id="rfc7239",
        ),
        pytest.param(
            at(("host", "10.0.0.5"), ("x-forwarded-proto", "javascript")),
            None,
            True,
            "http://10.0.0.5",
            id="odd-proto-ignored",
        ),
        pytest.param(
            at(("host", "127.0.0.1"), ("x-forwarded-host", "a.example")),
            "https://billing.example.com",
            True,
            "https://billing.example.com",
            id="public-url-wins",
        ),
        pytest.param(
            at(
                ("host", "10.0.0.5"),
                ("x-forwarded-proto", " HTTPS , http"),
                ("x-forwarded-host", " a.example ,b"),
            ),
            None,
            True,
            "https://a.example",
            id="x-forwarded-spaces-and-case",
        ),
        pytest.param(
            at(("host", "10.0.0.5"), ("x-forwarded-proto", "https,http")),
            None,
            True,
            "https://10.0.0.5",
            id="x-forwarded-proto-list",
        ),
        pytest.param(
            at(("host", "10.0.0.5"), ("x-forwarded-proto", "http")),
            None,
            True,
            "http://10.0.0.5",
            id="x-forwarded-http",
        ),
        pytest.param(
            at(("host", "10.0.0.5"), ("forwarded", 'for=1.2.3.4; Proto=HTTPS; HOST= "Xy.example.com"')),
            None,
            True,
            "https://Xy.example.com",
            id="rfc7239-spaces-and-case",
        ),
        pytest.param(
            at(("host", "10.0.0.5"), ("forwarded", "proto=https;host=a.example, proto=http;host=b.example")),
            None,
            True,
            "https://a.example",
            id="rfc7239-nearest-proxy",
        ),
        pytest.param(
            at(("host", "10.0.0.5"), ("forwarded", "proto=https;host=a=b")),
            None,
            True,
            None,
            id="rfc7239-host-not-a-host",
        ),
        pytest.param(
            at(("host", "10.0.0.5"), ("forwarded", "for=1.2.3.4")),
            None,
            True,
            "http://10.0.0.5",
            id="rfc7239-without-proto-or-host",
        ),
        pytest.param(at(), None, False, None, id="no-host"),
        pytest.param(at(), None, True, None, id="no-host-trusted"),
        pytest.param(
            at(("host", " 127.0.0.1:8020 ")), None, False, "http://127.0.0.1:8020", id="host-spaces"
        ),
        pytest.param(at(("host", "evil.example/path?x=")), None, False, None, id="host-with-path"),
        pytest.param(at(("host", "a@b")), None, False, None, id="host-with-userinfo"),
        pytest.param(at(("host", "a" * 300)), None, False, None, id="host-too-long"),
    ],
)
def test_request_origin(request_: Request, public_url: str | None, trust: bool, origin: str | None) -> None:
    """PUBLIC_URL wins; forwarded headers only when trusted; a Host that is not a host gives None."""
    assert request_origin(request_, public_url, trust) == origin
