"""handlers.health: GET /healthz reports whether the profile store answers."""

from __future__ import annotations

from handlers.http import Request
from tests.helpers.fakes import FakeProfiles, make_router


def test_healthz_reports_the_store() -> None:
    """200 "ok" when the store answers, 503 "unavailable" when it does not; both match the schema."""
    profiles = FakeProfiles()
    router = make_router(profiles=profiles)
    ok = router.dispatch(Request("GET", "/healthz"))
    profiles.down = True
    down = router.dispatch(Request("GET", "/healthz"))
    assert (ok.status, ok.body) == (200, {"status": "ok", "profiles": "ok"})
    assert (down.status, down.body) == (503, {"status": "unavailable", "profiles": "unavailable"})
