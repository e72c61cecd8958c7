"""The HTTP client the stripe SDK sends through: one deadline for a whole call, retries included.

The SDK's own retry loop bounds each attempt but not the call, and never retries a 429. A caller
waiting on a slow Stripe needs an answer within a known time, so this client owns the loop.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
import stripe

# 409 is Stripe's "retry me" for lock contention; 429 is a rate limit; 5xx are Stripe's own failures.
RETRIED_STATUSES = frozenset({409, 429})


class DeadlineClient(stripe.RequestsClient):
    """A `stripe.RequestsClient` whose calls end within `budget` seconds, every attempt and pause included.

    Connection errors, timeouts, 409, 429 and 5xx are retried up to `max_retries` times with the
    same request (so the same Idempotency-Key), pausing `retry_delay` seconds, doubled each time, with
    jitter; a pause that would cross the deadline is not taken. Stripe-Should-Retry is obeyed.
    """

    def __init__(
        self,
        budget: float,
        *,
        max_retries: int = 2,
        retry_delay: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._attempt = threading.local()
        super().__init__(timeout=budget)  # sets self.budget, through the setter below
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self._clock = clock
        self._sleep = sleep

    # RequestsClient reads `self._timeout` for each attempt; per thread, it is what is left of the budget.
    @property
    def _timeout(self) -> float:
        return float(getattr(self._attempt, "timeout", self.budget))

    @_timeout.setter
    def _timeout(self, value: float) -> None:
        self.budget = value

    def request(  # type: ignore[override]  # RequestsClient's own signature, which mypy already flags
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """One attempt, on this thread's pooled session."""
        if getattr(self._thread_local, "session", None) is None:
            session = _StripeSession(self._clock)
            # requests looks up proxy variables and ~/.netrc on every call unless told not to: a fifth
            # of a Stripe call's CPU here (cProfile). Stripe is one host, so its proxy is read once.
            session.trust_env = False
            session.proxies.update(requests.utils.get_environ_proxies(url))
            self._thread_local.session = session
        return super().request(method, url, headers, post_data)

    def request_with_retries(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
        max_network_retries: int | None = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        """One Stripe call: attempts and pauses until an answer to keep, the retry limit or the deadline."""
        deadline = self._clock() + self.budget
        retries = 0
        while True:
            self._attempt.timeout = max(deadline - self._clock(), 0.001)
            error: stripe.APIConnectionError | None = None
            response: tuple[Any, int, Mapping[str, str]] | None = None
            try:
                response = self.request(method, url, headers, post_data)
            except stripe.APIConnectionError as exc:
                error = exc
            finally:
                del self._attempt.timeout
            pause = self._pause(retries + 1)
            if retries < self.max_retries and _retryable(response, error):
                if self._clock() + pause < deadline:
                    retries += 1
                    self._sleep(pause)
                    continue
            if response is not None:
                return response
            assert error is not None
            raise error

    def _pause(self, retry: int) -> float:
        base = self.retry_delay * float(2 ** (retry - 1))
        return base * (0.5 + random.random() / 2)  # jitter, so retries from many callers spread out


class _StripeSession(requests.Session):
    """A Session whose request() goes straight to the pooled adapter.

    Stripe's API sets no cookies, sends no redirects and needs no auth hooks, so Session.request's
    per-call merging of those is skipped: under load that was a tenth of a checkout's CPU (py-spy).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        *,
        headers: Any,
        data: Any,
        timeout: float,
        verify: Any,
        proxies: Any = None,
        **_: Any,
    ) -> requests.Response:
        deadline = self._clock() + timeout
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=url, headers=headers, data=data)
        # The adapter reads the body only when asked (below), whatever `stream` would say.
        response = self.get_adapter(url).send(
            prepared, timeout=timeout, verify=verify, proxies=proxies or self.proxies
        )
        # requests' timeout bounds each socket read, so a body sent a byte at a time could hold the
        # call for ever: the whole body must arrive within the attempt's time.
        chunks = []
        while chunk := response.raw.read1(decode_content=True):  # whatever one read brings
            chunks.append(chunk)
            if self._clock() > deadline:
                response.close()
                raise requests.exceptions.ReadTimeout(f"no whole answer within {timeout} s")
        response._content = b"".join(chunks)  # what Response.content would have cached
        return response


def _retryable(
    response: tuple[Any, int, Mapping[str, str]] | None, error: stripe.APIConnectionError | None
) -> bool:
    if response is None:
        return error is not None and error.should_retry
    _, status, headers = response
    advice = headers.get("stripe-should-retry")
    if advice in ("true", "false"):
        return advice == "true"
    return status in RETRIED_STATUSES or status >= 500
