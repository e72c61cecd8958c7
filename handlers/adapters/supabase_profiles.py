"""The Supabase REST profile store: PostgREST over HTTPS, for runtimes with no TCP to Postgres.

Reads go as the signed-in user (row level security applies), exactly as supabase-js sends them;
Stripe events go to `public.apply_stripe_event` with the service role key. Requests go through a
`Fetch`: the host's `fetch` at the edge, `requests` (imported only then) when none is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode

from ..ports import OUTCOMES, Outcome, Profile, ProfileUpdate, StoreError
from .fetch import Fetch, requests_fetch

COLUMNS = "id,email,customer_id,price_id,has_access"
SINGLE_OBJECT = "application/vnd.pgrst.object+json"
NO_ROWS = "PGRST116"
# A health probe gives up after this long, so /healthz answers within 2 s.
PING_SECONDS = 1.5


class SupabaseProfiles:
    """Profiles through `<SUPABASE_URL>/rest/v1`; every call has a timeout and no retry."""

    def __init__(
        self,
        url: str,
        anon_key: str,
        service_role_key: str,
        *,
        timeout: float = 5.0,
        fetch: Fetch | None = None,
    ) -> None:
        self._rest = f"{url.rstrip('/')}/rest/v1"
        self._anon_key = anon_key
        self._service_key = service_role_key
        self._timeout = timeout
        self._fetch = fetch if fetch is not None else requests_fetch()

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
        """The profile of `user_id`, read with the user's token (the service key when there is none)."""
        query = {"select": COLUMNS, "id": f"eq.{user_id}"}
        status, row = self._call(
            "GET", "/profiles", "profile read", query, token=access_token, accept=SINGLE_OBJECT
        )
        if status == 406 and isinstance(row, dict) and row.get("code") == NO_ROWS:
            return None
        if status != 200:
            raise _failed("profile read", status, row)
        if not isinstance(row, dict):
            raise StoreError("profile read gave a body that is not a JSON object")
        if not isinstance(row.get("id"), str):
            raise StoreError("profile read gave a row without an id")
        return Profile(
            row["id"],
            _text(row.get("email")),
            _text(row.get("customer_id")),
            _text(row.get("price_id")),
            row.get("has_access") is True,
        )

    def apply(self, update: ProfileUpdate) -> Outcome:
        """Apply a Stripe event through `POST /rest/v1/rpc/apply_stripe_event` with the service key."""
        payload = {
            "p_event_id": update.event_id,
            "p_created": update.created,
            "p_user_id": update.user_id,
            "p_customer_id": update.customer_id,
            "p_email": update.email,
            "p_price_id": update.price_id,
            "p_has_access": update.has_access,
        }
        status, outcome = self._call(
            "POST", "/rpc/apply_stripe_event", "profile update", payload=payload, accept="application/json"
        )
        if status != 200:
            raise _failed("profile update", status, outcome)
        if outcome not in OUTCOMES:
            raise StoreError("profile update gave an unknown outcome")
        return cast(Outcome, outcome)

    def forget_customer(self, user_id: str, customer_id: str) -> None:
        """Clear the customer with the service key, only where the row still holds `customer_id`."""
        # supabase-js: .from("profiles").update({customer_id: null}).eq("id", ...).eq("customer_id", ...).
        # PostgREST answers 204 also when the row holds another customer by now, which is then left alone.
        query = {"id": f"eq.{user_id}", "customer_id": f"eq.{customer_id}"}
        status, body = self._call(
            "PATCH", "/profiles", "profile update", query, payload={"customer_id": None}
        )
        if status not in (200, 204):
            raise _failed("profile update", status, body)

    def ping(self) -> None:
        """Raise StoreError unless PostgREST answers for the `profiles` table."""
        status, body = self._call(
            "GET",
            "/profiles",
            "profile ping",
            {"select": "id", "limit": "1"},
            timeout=min(self._timeout, PING_SECONDS),
        )
        if status != 200:
            raise _failed("profile ping", status, body)

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        query: Mapping[str, str] | None = None,
        *,
        token: str | None = None,
        accept: str | None = None,
        payload: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        """The status and JSON body (None when not JSON), sent with the user's `token` or the service key."""
        apikey, bearer = (self._anon_key, token) if token else (self._service_key,) * 2
        headers = {"apikey": apikey, "Authorization": f"Bearer {bearer}"}
        if payload is None:
            headers["Accept-Profile"] = "public"
        else:
            headers |= {"Content-Type": "application/json", "Content-Profile": "public"}
        if accept:
            headers["Accept"] = accept
        url = f"{self._rest}{path}" + (f"?{urlencode(query)}" if query else "")
        # The bytes requests' `json=` sends, with the same separators (a payload never holds a NaN).
        body = None if payload is None else json.dumps(payload).encode()
        try:
            status, _, content = self._fetch(method, url, headers, body, timeout or self._timeout)
        except TimeoutError as exc:
            raise StoreError(f"{what} timed out") from exc
        except Exception as exc:
            # Whatever the transport raises is "no answer": a runtime's own classes too (inside Pyodide,
            # requests fails with AttributeError: XMLHttpRequest). The type only: a message can echo
            # request details.
            raise StoreError(f"{what} failed: {type(exc).__name__}") from exc
        try:
            return int(status), json.loads(bytes(content))
        except ValueError:
            return int(status), None


def _failed(what: str, status: int, body: Any) -> StoreError:
    """The error for an unexpected answer, naming only its status and PostgREST's error code."""
    code = body.get("code") if isinstance(body, dict) else None
    return StoreError(f"{what} failed: HTTP {status} {code if isinstance(code, str) else ''}".rstrip())


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
