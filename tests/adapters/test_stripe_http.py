"""handlers.adapters.stripe_http: retries of 409/429/5xx and connection errors, within one deadline."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from responses.registries import OrderedRegistry

from handlers.adapters.stripe_http import DeadlineClient
from handlers.adapters.stripe_payments import UNAVAILABLE, StripePayments
from handlers.ports import PaymentsError

SECRET_KEY = "sk_test_deadline0123456789"
CHECKOUT_URL = "https://api.stripe.com/v1/checkout/sessions"
SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_deadline"
SESSION = {"id": "cs_test_deadline", "object": "checkout.session", "url": SESSION_URL}
RATE_LIMITED = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many."}}
API_ERROR = {"error": {"type": "api_error", "message": "Something went wrong."}}
PARAMS = {"mode": "payment", "line_items": [{"price": "price_1", "quantity": 1}]}
KEY = "checkout-deadline"


class Clock:
    """A fake monotonic clock that only the fake sleep moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the clock instead of waiting."""
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(name="mocked")
def _mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=True) as mock:
        yield mock


def checkout(client: DeadlineClient, max_retries: int) -> str:
    """Create a checkout session through StripePayments over `client`."""
    payments = StripePayments(SECRET_KEY, max_retries=max_retries, http_client=client)
    return payments.create_checkout_session(PARAMS, KEY)


def timeouts(mocked: responses.RequestsMock) -> list[Any]:
    """The timeout requests was given for each attempt."""
    return [call.request.req_kwargs["timeout"] for call in mocked.calls]  # type: ignore[attr-defined]


def test_a_429_is_retried_with_the_same_idempotency_key(mocked: responses.RequestsMock) -> None:
    """A rate-limited attempt is retried, with the same key, and the retry's answer is used."""
    mocked.post(CHECKOUT_URL, status=429, json=RATE_LIMITED)
    mocked.post(CHECKOUT_URL, json=SESSION)
    clock = Clock()

    url = checkout(DeadlineClient(5, max_retries=2, retry_delay=0.2, clock=clock, sleep=clock.sleep), 2)

    assert url == SESSION_URL
    assert [call.request.headers["Idempotency-Key"] for call in mocked.calls] == [KEY, KEY]
    assert len(clock.slept) == 1
    assert 0.1 <= clock.slept[0] <= 0.2


@pytest.mark.parametrize("status", [409, 429, 500, 503], ids=lambda s: f"status-{s}")
def test_retryable_statuses_are_bounded_by_max_retries(mocked: responses.RequestsMock, status: int) -> None:
    """max_retries=2 makes exactly three attempts, then the call fails as unavailable or failed."""
    for _ in range(3):
        mocked.post(CHECKOUT_URL, status=status, json=RATE_LIMITED if status == 429 else API_ERROR)
    clock = Clock()

    with pytest.raises(PaymentsError):
        checkout(DeadlineClient(5, max_retries=2, retry_delay=0.0, clock=clock, sleep=clock.sleep), 2)

    assert len(mocked.calls) == 3


def test_stripe_should_retry_false_is_obeyed(mocked: responses.RequestsMock) -> None:
    """A 500 that Stripe marks Stripe-Should-Retry: false is final."""
    mocked.post(CHECKOUT_URL, status=500, json=API_ERROR, headers={"Stripe-Should-Retry": "false"})
    clock = Clock()

    with pytest.raises(PaymentsError) as caught:
        checkout(DeadlineClient(5, max_retries=2, retry_delay=0.0, clock=clock, sleep=clock.sleep), 2)

    assert caught.value.message == UNAVAILABLE
    assert len(mocked.calls) == 1


def test_a_400_is_not_retried(mocked: responses.RequestsMock) -> None:
    """An invalid request is final whatever the retry limit."""
    mocked.post(CHECKOUT_URL, status=400, json={"error": {"type": "invalid_request_error", "message": "No."}})
    clock = Clock()

    with pytest.raises(PaymentsError) as caught:
        checkout(DeadlineClient(5, max_retries=2, retry_delay=0.0, clock=clock, sleep=clock.sleep), 2)

    assert caught.value.message == "No."
    assert len(mocked.calls) == 1


def test_a_pause_that_would_cross_the_deadline_is_not_taken(mocked: responses.RequestsMock) -> None:
    """With a 1.5 s budget and 1 s base delay, the second pause (1-2 s) would end past it: two attempts."""
    mocked.post(CHECKOUT_URL, status=503, json=API_ERROR)
    mocked.post(CHECKOUT_URL, status=503, json=API_ERROR)
    clock = Clock()

    with pytest.raises(PaymentsError) as caught:
        checkout(DeadlineClient(1.5, max_retries=5, retry_delay=1.0, clock=clock, sleep=clock.sleep), 5)

    assert caught.value.message == UNAVAILABLE
    assert len(clock.slept) == 1
    assert clock.now - 100.0 < 1.5


def test_each_attempt_gets_what_is_left_of_the_budget(mocked: responses.RequestsMock) -> None:
    """The first attempt may use the whole budget, a retry only what the pause left of it."""
    mocked.post(CHECKOUT_URL, body=requests.ConnectionError("reset by peer"))
    mocked.post(CHECKOUT_URL, json=SESSION)
    clock = Clock()

    checkout(DeadlineClient(3, max_retries=2, retry_delay=1.0, clock=clock, sleep=clock.sleep), 2)

    assert timeouts(mocked) == [3.0, pytest.approx(3.0 - clock.slept[0])]


def test_timeout_is_the_budget_outside_a_call() -> None:
    """Between calls the client reports its whole budget, as RequestsClient's timeout."""
    client = DeadlineClient(2.5)

    assert client._timeout == 2.5


@pytest.mark.parametrize(
    ("environ", "proxies"),
    [
        pytest.param({}, {}, id="no-proxy"),
        pytest.param(
            {"HTTPS_PROXY": "http://proxy.example:3128"},
            {"https": "http://proxy.example:3128"},
            id="https-proxy",
        ),
        pytest.param(
            {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": "api.stripe.com"}, {}, id="bypassed"
        ),
    ],
)
def test_proxy_settings_are_read_once_per_thread_session(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], proxies: dict[str, str]
) -> None:
    """The environment's proxy for Stripe is kept on the session; requests stops reading it per call."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    client = DeadlineClient(5.0, max_retries=0)
    with responses.RequestsMock() as mock:
        mock.post(CHECKOUT_URL, json=SESSION)
        client.request("post", CHECKOUT_URL, {}, "mode=payment")
    session = client._thread_local.session
    assert session.trust_env is False
    assert {k: v for k, v in session.proxies.items() if k != "no"} == proxies


def test_a_body_sent_a_byte_at_a_time_still_ends_within_the_budget() -> None:
    """requests bounds each read; the whole answer must still arrive within STRIPE_TIMEOUT."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    sent = [0]

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
            )
            for _ in range(400):
                if stop.is_set():
                    return
                try:
                    connection.sendall(b" ")
                except OSError:
                    return
                sent[0] += 1
                time.sleep(0.05)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    payments = StripePayments(SECRET_KEY, api_base=base, timeout=0.6, max_retries=0)
    try:
        with pytest.raises(PaymentsError) as caught:
            payments.create_checkout_session(PARAMS, KEY)
        sent_when_answered = sent[0]
    finally:
        stop.set()
        listener.close()
    assert caught.value.message == UNAVAILABLE
    # The whole body takes 400 bytes at 50 ms each: the call gave up long before it was complete.
    assert sent_when_answered < 400


def test_stripe_should_retry_true_is_obeyed(mocked: responses.RequestsMock) -> None:
    """A 400 that Stripe marks Stripe-Should-Retry: true is retried, and the retry's answer kept."""
    refused = {"error": {"type": "invalid_request_error", "message": "No."}}
    mocked.post(CHECKOUT_URL, status=400, json=refused, headers={"Stripe-Should-Retry": "true"})
    mocked.post(CHECKOUT_URL, json=SESSION)
    clock = Clock()

    url = checkout(DeadlineClient(5, max_retries=2, retry_delay=0.0, clock=clock, sleep=clock.sleep), 2)

    assert url == SESSION_URL and len(mocked.calls) == 2


@pytest.mark.parametrize(
    ("jitter", "pauses"), [(0.0, [0.5, 1.0, 2.0]), (1.0, [1.0, 2.0, 4.0])], ids=["least", "most"]
)
def test_pauses_double_with_jitter_between_half_and_all_of_it(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, jitter: float, pauses: list[float]
) -> None:
    """retry_delay, doubled for each retry, each pause somewhere from half of it to all of it."""
    monkeypatch.setattr(random, "random", lambda: jitter)
    for _ in range(3):
        mocked.post(CHECKOUT_URL, status=503, json=API_ERROR)
    mocked.post(CHECKOUT_URL, json=SESSION)
    clock = Clock()

    checkout(DeadlineClient(60, max_retries=3, retry_delay=1.0, clock=clock, sleep=clock.sleep), 3)

    assert clock.slept == pauses


def test_a_pause_that_would_end_at_the_deadline_is_not_taken(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry must start before the deadline: a pause ending exactly on it is not worth taking."""
    monkeypatch.setattr(random, "random", lambda: 1.0)
    mocked.post(CHECKOUT_URL, status=503, json=API_ERROR)
    clock = Clock()

    with pytest.raises(PaymentsError):
        checkout(DeadlineClient(1.0, max_retries=2, retry_delay=1.0, clock=clock, sleep=clock.sleep), 2)

    assert (len(mocked.calls), clock.slept) == (1, [])


def test_a_budget_under_a_second_is_the_attempts_timeout(mocked: responses.RequestsMock) -> None:
    """A short budget is given to requests as it is, not rounded up."""
    mocked.post(CHECKOUT_URL, json=SESSION)
    clock = Clock()

    checkout(DeadlineClient(0.5, max_retries=0, clock=clock, sleep=clock.sleep), 0)

    assert timeouts(mocked) == [0.5]
