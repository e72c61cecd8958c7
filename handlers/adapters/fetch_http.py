"""Stripe over the host's `fetch`: for runtimes without sockets, such as a Pyodide edge worker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .fetch import Fetch
from .stripe_payments import StripePayments

if TYPE_CHECKING:
    import stripe

NETWORK_ERROR = "Unexpected error communicating with Stripe."


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
        import stripe

        fetch, timeout = self._fetch, self._timeout

        class FetchHTTPClient(stripe.HTTPClient):
            """Hands each request to `fetch`; any failure to get an answer is an APIConnectionError."""

            name = "fetch"

            def request(
                self,
                method: str,
                url: str,
                headers: Mapping[str, str] | None,
                post_data: Any = None,
                **_: Any,
            ) -> tuple[str, int, Mapping[str, str]]:
                body = post_data.encode("utf-8") if isinstance(post_data, str) else post_data
                try:
                    status, answered, content = fetch(method.upper(), url, dict(headers or {}), body, timeout)
                except Exception as exc:
                    # The type is enough to diagnose; the text could echo request headers. Safe to retry:
                    # every POST carries an idempotency key, the caller's or the SDK's.
                    message = f"{NETWORK_ERROR} ({type(exc).__name__})"
                    raise stripe.APIConnectionError(message, should_retry=True) from exc  # type: ignore[no-untyped-call]
                lowered = {key.lower(): value for key, value in answered.items()}
                return bytes(content).decode("utf-8", errors="replace"), int(status), lowered

            def close(self) -> None:
                """Nothing to release: the host owns the connections."""

        return FetchHTTPClient()
