"""Split deployments: CORS for listed frontend origins, and no session cookie used cross-site."""

from __future__ import annotations

from dataclasses import replace

from .http import Headers, Request, Response
from .session import is_session_cookie
from .settings import origin_of

CROSS_SITE = "Cross-site request refused"
ALLOW_HEADERS = "authorization, content-type, idempotency-key, x-request-id"
MAX_AGE = "600"


class CORS:
    """Answers preflights, labels responses for listed origins, and refuses cross-site cookie POSTs."""

    def __init__(self, allowed_origins: tuple[str, ...], cookie_name: str | None, paths: set[str]) -> None:
        self.allowed = frozenset(allowed_origins)
        self._cookie_name = cookie_name
        self._paths = paths

    def preflight(self, method: str, path: str, headers: Headers) -> Response | None:
        """The answer to a CORS preflight for an API path, or None; only what is particular to a preflight:
        `label`, which every response passes through, adds Allow-Origin, -Credentials and Vary once."""
        if not self.allowed or method != "OPTIONS" or path not in self._paths:
            return None
        origin = _header(headers, "origin")
        if origin is None or origin_of(origin) not in self.allowed:
            return Response(204, None)
        return Response(
            204,
            None,
            (
                ("access-control-allow-methods", "GET, POST, OPTIONS"),
                ("access-control-allow-headers", ALLOW_HEADERS),
                ("access-control-max-age", MAX_AGE),
            ),
        )

    def label(self, response: Response, headers: Headers) -> Response:
        """`response` with the CORS headers its request's origin is entitled to (set nowhere else)."""
        if not self.allowed:
            return response
        origin = _header(headers, "origin")
        if origin and origin_of(origin) in self.allowed:
            allow = (("access-control-allow-origin", origin), ("access-control-allow-credentials", "true"))
            return replace(response, headers=(*response.headers, *allow, ("vary", "Origin")))
        return replace(response, headers=(*response.headers, ("vary", "Origin")))

    def refuse(self, request: Request) -> Response | None:
        """403 for a POST that rides on a session cookie from an origin that is neither ours nor listed."""
        if request.method != "POST" or request.header("authorization") is not None:
            return None
        origin = request.header("origin")
        if origin is None or not self._has_session_cookie(request):
            return None
        found = origin_of(origin)
        if found is not None and (found in self.allowed or _same_host(found, request.header("host"))):
            return None
        return Response(403, {"error": CROSS_SITE})

    def _has_session_cookie(self, request: Request) -> bool:
        return any(is_session_cookie(name, self._cookie_name) for name in request.cookies())


def _header(headers: Headers, name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


def _same_host(origin: str, host: str | None) -> bool:
    # Behind a proxy the scheme is not known here; the Host header carries host and port.
    if not host:
        return False
    scheme, _, rest = origin.partition("://")
    wanted = host.strip().lower()
    default = ":443" if scheme == "https" else ":80"
    return rest == wanted or rest + default == wanted or rest == wanted.removesuffix(default)
