"""handlers.adapters.stripe_http: retries of 409/429/5xx and connection errors, within one deadline."""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import random
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
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


# What a local stand-in for Stripe does with one request: writes its answer on the handler's stream.
Answer = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    """One request the stand-in received, on its `connection`-th connection."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int


class LocalStripe(ThreadingHTTPServer):
    """Answers each request with the next queued answer; records requests and accepted connections."""

    daemon_threads = True

    def __init__(self, *answers: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.answers = list(answers)
        self.seen: list[Seen] = []
        self.connections = 0
        self.tls = tls
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.number = server.connections

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                seen = Seen(self.command, self.path, dict(self.headers.items()), body, self.number)
                server.seen.append(seen)
                server.answers.pop(0)(self)

            do_POST = do_GET = _answer

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self) -> tuple[Any, Any]:
        """Count the connection, then (over TLS) shake hands on it."""
        connection, address = self.socket.accept()
        self.connections += 1
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_side=True)
        return connection, address

    @property
    def url(self) -> str:
        """The base address, http or https."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server_address[1]}"


@contextmanager
def local_stripe(*answers: Answer, tls: ssl.SSLContext | None = None) -> Iterator[LocalStripe]:
    """A LocalStripe serving on a free port for the block."""
    server = LocalStripe(*answers, tls=tls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def session_answer(handler: BaseHTTPRequestHandler, gzipped: bool = False) -> None:
    """Stripe's answer with SESSION, optionally gzip-encoded."""
    body = json.dumps(SESSION).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    if gzipped:
        body = gzip.compress(body)
        handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def chunked_answer(clock: Clock, parts: int) -> Answer:
    """SESSION in `parts` HTTP chunks, the clock one second later before each is sent."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        body = json.dumps(SESSION).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        size = -(-len(body) // parts)
        for start in range(0, len(body), size):
            clock.now += 1.0
            piece = body[start : start + size]
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")

    return answer


def over(server: LocalStripe, client: DeadlineClient | None = None, **options: Any) -> StripePayments:
    """StripePayments sending to `server`, retrying nothing unless told to."""
    return StripePayments(
        SECRET_KEY, api_base=server.url, http_client=client, **({"max_retries": 0} | options)
    )


def test_a_threads_calls_share_one_connection_and_send_the_exact_request() -> None:
    """Two checkouts on one thread: one kept-alive connection; each a POST with the key, its own key, form."""
    with local_stripe(session_answer, session_answer) as server:
        payments = over(server)
        assert payments.create_checkout_session(PARAMS, "first") == SESSION_URL
        assert payments.create_checkout_session(PARAMS, "second") == SESSION_URL

    assert server.connections == 1
    assert [(seen.method, seen.target, seen.connection) for seen in server.seen] == [
        ("POST", "/v1/checkout/sessions", 1),
        ("POST", "/v1/checkout/sessions", 1),
    ]
    assert [seen.headers["Idempotency-Key"] for seen in server.seen] == ["first", "second"]
    assert server.seen[0].headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert server.seen[0].body == (b"mode=payment&line_items[0][price]=price_1&line_items[0][quantity]=1")


def test_a_gzip_encoded_answer_is_decoded() -> None:
    """Stripe may compress its answer: the body is read decoded."""
    with local_stripe(lambda handler: session_answer(handler, gzipped=True)) as server:
        assert over(server).create_checkout_session(PARAMS, KEY) == SESSION_URL


def test_calls_go_through_the_environments_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """With HTTP_PROXY set when the session is made, every call goes to the proxy with the full URL."""
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with local_stripe(session_answer) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        payments = StripePayments(SECRET_KEY, api_base="http://api.stripe.invalid", max_retries=0)
        assert payments.create_checkout_session(PARAMS, KEY) == SESSION_URL

    assert [seen.target for seen in proxy.seen] == ["http://api.stripe.invalid/v1/checkout/sessions"]


@pytest.mark.parametrize("budget", [3.0, 10.0], ids=["ends-on-the-deadline", "well-within"])
def test_a_body_whose_last_part_comes_by_the_deadline_is_kept(budget: float) -> None:
    """Three parts of the body, a second apart: arriving by the deadline (not after it) is in time."""
    clock = Clock()
    with local_stripe(chunked_answer(clock, 3)) as server:
        client = DeadlineClient(budget, max_retries=0, clock=clock, sleep=clock.sleep)
        assert over(server, client).create_checkout_session(PARAMS, KEY) == SESSION_URL


def test_a_body_whose_last_part_comes_after_the_deadline_is_given_up() -> None:
    """The third part a second apart comes half a second after a 2.5 s budget: a read timeout, unavailable."""
    clock = Clock()
    with local_stripe(chunked_answer(clock, 3)) as server:
        client = DeadlineClient(2.5, max_retries=0, clock=clock, sleep=clock.sleep)
        with pytest.raises(PaymentsError) as caught:
            over(server, client).create_checkout_session(PARAMS, KEY)

    assert caught.value.message == UNAVAILABLE
    assert str(caught.value.__cause__).endswith("(Network error: ReadTimeout: no whole answer within 2.5 s)")


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate, key) as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(name="tls")
def _tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server-side TLS context with a self-signed certificate, and that certificate's file."""
    cert_path, key_path = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


def test_a_certificate_outside_stripes_ca_bundle_is_refused_once(tls: tuple[ssl.SSLContext, Path]) -> None:
    """A certificate the SDK's CA bundle does not vouch for is refused, and never retried."""
    clock = Clock()
    with local_stripe(session_answer, tls=tls[0]) as server:
        client = DeadlineClient(5, max_retries=2, retry_delay=0.0, clock=clock, sleep=clock.sleep)
        with pytest.raises(PaymentsError) as caught:
            over(server, client, max_retries=2).create_checkout_session(PARAMS, KEY)

    assert caught.value.message == UNAVAILABLE
    assert (server.connections, server.seen) == (1, [])


def test_the_sdks_ca_bundle_is_what_is_trusted(
    tls: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Certificates are checked against stripe.ca_bundle_path: a bundle holding the server's is trusted."""
    import stripe

    monkeypatch.setattr(stripe, "ca_bundle_path", str(tls[1]))
    with local_stripe(session_answer, tls=tls[0]) as server:
        assert over(server).create_checkout_session(PARAMS, KEY) == SESSION_URL


def test_by_default_two_retries_pausing_half_a_second_then_a_second(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeadlineClient's defaults: three attempts in all, pauses from 0.5 s, doubled."""
    monkeypatch.setattr(random, "random", lambda: 1.0)
    for _ in range(3):
        mocked.post(CHECKOUT_URL, status=503, json=API_ERROR)
    clock = Clock()

    with pytest.raises(PaymentsError):
        checkout(DeadlineClient(60, clock=clock, sleep=clock.sleep), 2)

    assert (len(mocked.calls), clock.slept) == (3, [0.5, 1.0])


def test_stripe_payments_defaults_are_a_ten_second_budget_and_two_retries(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """StripePayments with no options: each call has 10 s, and three attempts at most."""
    monkeypatch.setattr(random, "random", lambda: 0.0)  # the shortest pauses: 0.25 s and 0.5 s
    for _ in range(3):
        mocked.post(CHECKOUT_URL, status=503, json=API_ERROR)

    with pytest.raises(PaymentsError):
        StripePayments(SECRET_KEY).create_checkout_session(PARAMS, KEY)

    assert len(mocked.calls) == 3
    assert 9.0 < timeouts(mocked)[0] <= 10.0  # what is left of 10 s once the call has begun


@pytest.mark.parametrize(
    ("options", "attempts"),
    [
        pytest.param({}, 2, id="default-half-a-second-fits"),
        pytest.param({"retry_delay": 2.0}, 1, id="two-seconds-would-cross-it"),
    ],
)
def test_stripe_payments_pauses_by_its_retry_delay(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], attempts: int
) -> None:
    """Within a 1.4 s budget a first pause of 0.5 s (the default) is taken, one of 2 s is not."""
    monkeypatch.setattr(random, "random", lambda: 1.0)  # the whole delay: 0.5 s, then 1 s
    for _ in range(attempts):
        mocked.post(CHECKOUT_URL, status=503, json=API_ERROR)

    with pytest.raises(PaymentsError):
        StripePayments(SECRET_KEY, timeout=1.4, **options).create_checkout_session(PARAMS, KEY)

    assert len(mocked.calls) == attempts
