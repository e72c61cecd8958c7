"""GET /healthz."""

from __future__ import annotations

from .deps import Deps
from .http import Request, Response
from .ports import StoreError


def healthz(request: Request, deps: Deps) -> Response:
    """200 {"status": "ok", "profiles": "ok"} when the profile store answers, else 503 "unavailable".
    Schema: schemas/health.response.json"""
    try:
        deps.profiles.ping()
    except StoreError:
        return Response(503, {"status": "unavailable", "profiles": "unavailable"})
    return Response(200, {"status": "ok", "profiles": "ok"})
