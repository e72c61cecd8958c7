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


class FetchStripePayments:
    """StripePayments whose HTTP goes through `fetch`; built on the first call, so startup stays light."""

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
        self._secret_key = secret_key
        self._portal_configuration = portal_configuration
        self._fetch = fetch
        self._api_base = api_base
        self._timeout = timeout
        self._max_retries = max_retries
        self._payments: StripePayments | None = None

    def create_checkout_session(self, params: Mapping[str, Any], idempotency_key: str | None) -> str:
        """Create a Checkout Session through `fetch`."""
        return self._stripe().create_checkout_session(params, idempotency_key)

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """Create a Billing Portal session through `fetch`."""
        return self._stripe().create_portal_session(customer_id, return_url)

    def checkout_price(self, session_id: str) -> str | None:
        """The session's first line item's price, through `fetch`."""
        return self._stripe().checkout_price(session_id)

    def _stripe(self) -> StripePayments:
        if self._payments is None:
            self._payments = StripePayments(
                self._secret_key,
                api_base=self._api_base,
                timeout=self._timeout,
                max_retries=self._max_retries,
                http_client=fetch_http_client(self._fetch, self._timeout),
                portal_configuration=self._portal_configuration,
            )
        return self._payments
