"""The stripe SDK's HTTP client over a `Fetch`, for runtimes without sockets (a Pyodide edge worker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .fetch import Fetch

if TYPE_CHECKING:
    import stripe

NETWORK_ERROR = "Unexpected error communicating with Stripe."


def fetch_http_client(fetch: Fetch, timeout: float) -> stripe.HTTPClient:
    """Hands each request to `fetch`; any failure to get an answer is an APIConnectionError."""
    import stripe

    class FetchHTTPClient(stripe.HTTPClient):
        name = "fetch"

        def request(
            self,
            method: str,
            url: str,
            headers: Mapping[str, str] | None,
            post_data: Any = None,
            **_: Any,
        ) -> tuple[str, int, Mapping[str, str]]:
            body = post_data.encode() if isinstance(post_data, str) else post_data
            try:
                status, answered, content = fetch(method.upper(), url, dict(headers or {}), body, timeout)
            except Exception as exc:
                # The type is enough to diagnose; the text could echo request headers. Safe to retry:
                # every POST carries an idempotency key, the caller's or the SDK's.
                message = f"{NETWORK_ERROR} ({type(exc).__name__})"
                raise stripe.APIConnectionError(message, should_retry=True) from exc  # type: ignore[no-untyped-call]
            lowered = {key.lower(): value for key, value in answered.items()}
            return bytes(content).decode(errors="replace"), int(status), lowered

        def close(self) -> None:
            """Nothing to release: the host owns the connections."""

    return FetchHTTPClient()
