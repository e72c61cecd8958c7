"""Runs inside Pyodide: imports every handler module, then the handler tests, or times a first request."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
import traceback

# `python -m handlers` starts hypercorn, a socket server, and the PostgreSQL store speaks TCP through
# psycopg's C extension: no edge runtime runs either (the edge reads profiles over Supabase REST).
# stripe_http is the Stripe SDK's transport over requests' sockets; the edge's goes through fetch_http.
NOT_FOR_THE_EDGE = {
    "handlers.__main__",
    "handlers.adapters.postgres_profiles",
    "handlers.adapters.stripe_http",
}
TESTS = [
    "tests/test_http.py",
    "tests/test_json_depth.py",
    "tests/test_contract.py",
    "tests/test_validator.py",
    "tests/test_session.py",
    "tests/test_checkout.py",
    "tests/test_portal.py",
    "tests/test_router.py",
    "tests/test_edge.py",
    "tests/adapters/test_fetch_http.py",
]


def import_everything() -> list[str]:
    """Import every module of the handlers package; the names of those that failed, with why."""
    import handlers

    failed = []
    names = [info.name for info in pkgutil.walk_packages(handlers.__path__, "handlers.")]
    for name in sorted(set(names) - NOT_FOR_THE_EDGE):
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(f"{name}:\n{traceback.format_exc()}")
    count = len(names) - len(failed) - len(NOT_FOR_THE_EDGE)
    print(f"pyodide: imported {count} handler modules on {sys.platform}")
    return failed


def main(mode: str, pytest_args: list[str]) -> int:
    """0 when every handler module imports (and, in `tests` mode, every selected test passes)."""
    failed = import_everything()
    if failed:
        print("pyodide: these handler modules do not import here:\n" + "\n".join(failed), file=sys.stderr)
        return 1
    if mode == "imports":
        return 0
    import pytest

    return int(pytest.main(["-p", "no:cacheprovider", *pytest_args, *TESTS]))


def first_request() -> tuple[int, str, float, float, float]:
    """Build the service over in-memory adapters and answer one checkout, as a worker's first request.

    Answers the status, the body, and the milliseconds spent importing, building and answering.
    """
    started = time.perf_counter()
    from handlers.app import create_edge
    from handlers.offline.payments import OfflinePayments
    from handlers.ports import Outcome, Profile, ProfileUpdate

    class NoProfiles:
        def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
            return None

        def apply(self, update: ProfileUpdate) -> Outcome:
            return "unmatched"

        def forget_customer(self, user_id: str, customer_id: str) -> None:
            return None

        def ping(self) -> None:
            return None

    environ = {"SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_JWT_SECRET": "secret-" * 6}
    imported = time.perf_counter()
    edge = create_edge(
        environ, payments=OfflinePayments("https://billing.example.com"), profiles=NoProfiles()
    )
    built = time.perf_counter()
    body = {
        "priceId": "price_1",
        "successUrl": "https://app.example.com/ok",
        "cancelUrl": "https://app.example.com/no",
        "mode": "payment",
    }
    status, _, data = edge.handle(
        "POST", "https://billing.example.com/api/stripe/create-checkout", {}, json.dumps(body).encode()
    )
    answered = time.perf_counter()
    ms = 1000
    return status, data.decode(), ms * (imported - started), ms * (built - imported), ms * (answered - built)
