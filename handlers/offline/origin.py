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
    proto, host = _forwarded(request) if trust_proxy else (None, None)
    host = (host or request.header("host") or "").strip()
    # A proxy's word is taken for https only: http is what we are reached over without one.
    scheme = "https" if proto and proto.lower() == "https" else "http"
    return f"{scheme}://{host}" if _HOST.fullmatch(host) else None


def _forwarded(request: Request) -> tuple[str | None, str | None]:
    """(proto, host) of the nearest proxy: RFC 7239 `Forwarded`, else `X-Forwarded-Proto` and `-Host`."""
    forwarded = request.header("forwarded")
    if forwarded:
        pairs = (pair.partition("=") for pair in forwarded.split(",")[0].split(";"))
        found = {name.strip().lower(): value.strip().strip('"') for name, _, value in pairs}
        return found.get("proto"), found.get("host")
    proto, host = request.header("x-forwarded-proto"), request.header("x-forwarded-host")
    return proto and proto.split(",")[0].strip(), host and host.split(",")[0]
