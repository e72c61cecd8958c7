"""Stripe over the host's `fetch`: for runtimes without sockets, such as a Pyodide edge worker.

The stripe SDK is imported when the first payment is made, never at import or construction.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .fetch import Fetch, runtime_fetch
from .stripe_payments import StripePayments

if TYPE_CHECKING:
    import stripe

# Fetch and runtime_fetch are defined in .fetch, shared with the other adapters; re-exported for callers.
__all__ = ["Fetch", "FetchStripePayments", "fetch_http_client", "runtime_fetch"]

NETWORK_ERROR = "Unexpected error communicating with Stripe."


def fetch_http_client(fetch: Fetch, timeout: float = 10.0) -> stripe.HTTPClient:
    """A `stripe.HTTPClient` that sends every request through `fetch` (imports stripe)."""
    client: stripe.HTTPClient = _client_class()(fetch, timeout)
    return client


@functools.cache
def _client_class() -> type[Any]:
    import stripe

    class FetchHTTPClient(stripe.HTTPClient):
        """Hands each request to `fetch`; any failure to get an answer is an APIConnectionError."""

        name = "fetch"

        def __init__(self, fetch: Fetch, timeout: float) -> None:
            super().__init__()
            self._fetch = fetch
            self._timeout = timeout

        def request(
            self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None, **_: Any
        ) -> tuple[str, int, Mapping[str, str]]:
            content, status, answered = self._send(method, url, headers, post_data)
            return content.decode("utf-8", errors="replace"), status, answered

        def request_stream(
            self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None, **_: Any
        ) -> tuple[Any, int, Mapping[str, str]]:
            """The SDK's streaming calls (file downloads): fetch answers whole, so the stream is in memory."""
            content, status, answered = self._send(method, url, headers, post_data)
            return io.BytesIO(content), status, answered

        def _send(
            self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any
        ) -> tuple[bytes, int, Mapping[str, str]]:
            body = post_data.encode("utf-8") if isinstance(post_data, str) else post_data
            try:
                status, answered, content = self._fetch(
                    method.upper(), url, dict(headers or {}), body, self._timeout
                )
            except Exception as exc:
                # The type is enough to diagnose; the text could echo request headers.
                message = f"{NETWORK_ERROR} ({type(exc).__name__})"
                # Safe to retry: every POST carries an idempotency key, the caller's or the SDK's.
                raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                    message, should_retry=True
                ) from exc
            return bytes(content), int(status), {key.lower(): value for key, value in answered.items()}

        def close(self) -> None:
            """Nothing to release: the host owns the connections."""

    return FetchHTTPClient


class FetchStripePayments(StripePayments):
    """StripePayments whose HTTP goes through `fetch`; the SDK loads with the first payment, not before."""

    def __init__(
        self,
        secret_key: str,
        fetch: Fetch,
        *,
        api_base: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 0,
        portal_configuration: str | None = None,
    ) -> None:
        super().__init__(
            secret_key,
            api_base=api_base,
            timeout=timeout,
            max_retries=max_retries,
            portal_configuration=portal_configuration,
        )
        self._fetch = fetch

    def _new_http_client(self) -> stripe.HTTPClient:
        return fetch_http_client(self._fetch, self._timeout)
