"""Payments through the real stripe SDK: pooled HTTP, timeouts, bounded retries, errors translated once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ..ports import PaymentsError, PortalNotConfigured, UnknownCustomer

if TYPE_CHECKING:
    import stripe

    from .fetch import Fetch

log = logging.getLogger("handlers.stripe")
T = TypeVar("T")

UNAVAILABLE = "The payment provider is unavailable. Please try again."
FAILED = "The payment provider could not complete the request."
# For the operator only: what Stripe says here (a dashboard link, "test mode") must not reach a user.
NO_PORTAL_CONFIGURATION = (
    "Stripe has no customer portal configuration to open: save the customer portal settings in the Stripe"
    " dashboard (Settings > Billing > Customer portal, in the mode of STRIPE_SECRET_KEY), or set"
    " STRIPE_PORTAL_CONFIGURATION to a portal configuration id (bpc_...). request_id=%s"
)
REFUSED_PORTAL_CONFIGURATION = (
    "Stripe refused the customer portal configuration in STRIPE_PORTAL_CONFIGURATION (code=%s): use an"
    " active bpc_... id from the Stripe dashboard (Settings > Billing > Customer portal) in the mode of"
    " STRIPE_SECRET_KEY, or unset it to use the saved default. request_id=%s"
)


class StripePayments:
    """Checkout and Billing Portal sessions through the stripe SDK, imported and built on first use;
    its HTTP through pooled sockets, or through `fetch` where there are none (the edge)."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        http_client: stripe.HTTPClient | None = None,
        retry_delay: float = 0.5,
        portal_configuration: str | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        self._secret_key = secret_key
        self._portal_configuration = portal_configuration
        self._api_base = api_base
        self._timeout = timeout
        self._max_retries = max_retries
        self._http_client = http_client
        self._retry_delay = retry_delay
        self._fetch = fetch
        self._client: stripe.StripeClient | None = None
        self._lock = threading.Lock()

    def create_checkout_session(self, params: Mapping[str, Any], idempotency_key: str | None) -> str:
        """Create a Checkout Session; the key makes a repeated request return the same session (without
        one the SDK makes one per call, which its own retries reuse)."""
        options = {"idempotency_key": idempotency_key} if idempotency_key else {}
        session = self._call(
            lambda client: client.v1.checkout.sessions.create(
                params=dict(params),  # type: ignore[arg-type]
                options=options,  # type: ignore[arg-type]
            )
        )
        return str(session.url)

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """Create a Billing Portal session for `customer_id`, with the configured portal when there is one."""
        params = {"customer": customer_id, "return_url": return_url}
        if self._portal_configuration:
            params["configuration"] = self._portal_configuration
        session = self._call(
            lambda client: client.v1.billing_portal.sessions.create(params=params)  # type: ignore[arg-type]
        )
        return str(session.url)

    def checkout_price(self, session_id: str) -> str | None:
        """The first line item's price: webhook events do not carry a session's line items."""
        items = self._call(
            lambda client: client.v1.checkout.sessions.line_items.list(session_id, params={"limit": 1})
        )
        if not items.data or not items.data[0].price:
            return None
        return str(items.data[0].price.id)

    def _call(self, request: Callable[[stripe.StripeClient], T]) -> T:
        import stripe

        client = self._stripe()
        try:
            return request(client)
        except stripe.InvalidRequestError as exc:
            raise _invalid_request(exc) from exc
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            _log_failure(exc)
            raise PaymentsError(UNAVAILABLE) from exc
        except stripe.StripeError as exc:
            _log_failure(exc)
            raise PaymentsError(FAILED) from exc

    def _stripe(self) -> stripe.StripeClient:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build()
        return self._client

    def _build(self) -> stripe.StripeClient:
        import stripe

        base = {"api": self._api_base.rstrip("/")} if self._api_base else {}
        # The SDK logs two INFO lines per call; under a service logging at INFO that was 3% of the CPU
        # of a checkout (py-spy, scripts/bench --profile c) and noise. Failures are logged below.
        sdk_log = logging.getLogger("stripe")
        if sdk_log.level == logging.NOTSET:
            sdk_log.setLevel(logging.WARNING)

        return stripe.StripeClient(
            self._secret_key,
            http_client=self._http_client or self._new_http_client(),
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=self._max_retries,
        )

    def _new_http_client(self) -> stripe.HTTPClient:
        """`fetch`'s, else the pooled one with one deadline per call (RequestsClient pools per thread)."""
        if self._fetch is not None:
            from .fetch_http import fetch_http_client

            return fetch_http_client(self._fetch, self._timeout)
        from .stripe_http import DeadlineClient

        return DeadlineClient(self._timeout, max_retries=self._max_retries, retry_delay=self._retry_delay)


def _invalid_request(exc: stripe.InvalidRequestError) -> PaymentsError:
    """The port error for a request Stripe refused, logged once."""
    # By param, not by code alone: an unknown price is `resource_missing` too.
    if exc.code == "resource_missing" and exc.param == "customer":
        _log_failure(exc)
        return UnknownCustomer(exc.user_message or FAILED)
    if exc.param == "configuration":
        log.warning(REFUSED_PORTAL_CONFIGURATION, exc.code, exc.request_id)
        return PortalNotConfigured()
    # Stripe gives no code for this one; its message is the only sign, in either mode.
    if "default configuration has not been created" in (exc.user_message or ""):
        log.warning(NO_PORTAL_CONFIGURATION, exc.request_id)
        return PortalNotConfigured()
    _log_failure(exc)
    # Stripe's own wording for a bad request (an unknown price, say) is safe and useful.
    return PaymentsError(exc.user_message or FAILED)


def _log_failure(exc: stripe.StripeError) -> None:
    # The class, status, code and request id identify the failure; the message can quote a masked key.
    log.warning(
        "stripe call failed: %s status=%s code=%s request_id=%s",
        type(exc).__name__,
        exc.http_status,
        exc.code,
        exc.request_id,
    )
