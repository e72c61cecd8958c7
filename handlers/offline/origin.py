"""Where a request arrived, for the stand-in's links: PUBLIC_URL, a trusted proxy's headers, or Host.
Never HOST and PORT (where we listen, not where a browser reaches us); forwarded headers only when trusted."""

from __future__ import annotations

import re

from ..http import Request

# A DNS name or an IPv4 / bracketed IPv6 address, with an optional port: nothing that could end a URL's host.
_HOST = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def request_origin(request: Request, public_url: str | None, trust_proxy: bool) -> str | None:
    """`scheme://host[:port]` the caller used, or None when the request does not say (no usable Host)."""
    if public_url:
        return public_url
    scheme, host = "http", request.header("host")
    if trust_proxy:
        forwarded_scheme, forwarded_host = _forwarded(request)
        scheme = forwarded_scheme or scheme
        host = forwarded_host or host
    host = (host or "").strip()
    return f"{scheme}://{host}" if _HOST.fullmatch(host) else None


def _forwarded(request: Request) -> tuple[str | None, str | None]:
    """(proto, host) of the nearest proxy: RFC 7239 `Forwarded`, else `X-Forwarded-Proto` and `-Host`."""
    scheme = host = None
    forwarded = request.header("forwarded")
    if forwarded:
        for pair in forwarded.split(",")[0].split(";"):
            name, _, value = pair.strip().partition("=")
            value = value.strip().strip('"')
            if name.lower() == "proto":
                scheme = value.lower()
            elif name.lower() == "host":
                host = value
    else:
        scheme = (request.header("x-forwarded-proto") or "").split(",")[0].strip().lower() or None
        host = (request.header("x-forwarded-host") or "").split(",")[0].strip() or None
    return (scheme if scheme in ("http", "https") else None), host
