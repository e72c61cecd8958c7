"""The ASGI shim and the router, driven in-process."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from handlers import contract
from handlers.asgi import App, Message
from handlers.http import Request, Response
from handlers.ports import Profile
from handlers.router import Pending, Router, route
from handlers.settings import Settings
from tests.helpers.asgi_client import call
from tests.helpers.fakes import (
    SECRET,
    SUPABASE_URL,
    USER_ID,
    FakePayments,
    FakeProfiles,
    make_router,
    make_token,
)

CHECKOUT = "/api/stripe/create-checkout"
PORTAL = "/api/stripe/create-portal"
GOOD = json.dumps(
    {
        "priceId": "price_1",
        "successUrl": "https://app.example.com/ok",
        "cancelUrl": "https://app.example.com/no",
        "mode": "subscription",
    }
).encode()


SMALL = Settings(supabase_url=SUPABASE_URL, supabase_jwt_secret=SECRET, max_body_bytes=1024)


def make_app(payments: FakePayments | None = None, profiles: FakeProfiles | None = None) -> App:
    """An App over fakes, with a small body limit."""
    return App(make_router(payments, profiles, SMALL), threads=4)


def test_checkout_ok_is_json_with_request_id() -> None:
    """A 200 is application/json, has a content-length, and echoes the caller's X-Request-Id."""
    result = asyncio.run(call(make_app(), "POST", CHECKOUT, GOOD, {"X-Request-Id": "req-42"}))
    assert result.status == 200
    assert result.json() == {"url": "https://checkout.stripe.com/c/pay/cs_test_1"}
    assert result.headers["content-type"] == "application/json"
    assert result.headers["content-length"] == str(len(result.body))
    assert result.headers["x-request-id"] == "req-42"


@pytest.mark.parametrize(
    "given", ["", "has space", "x" * 200, "<script>"], ids=["none", "space", "long", "html"]
)
def test_request_id_is_generated_when_missing_or_unsafe(given: str) -> None:
    """An absent or unsafe X-Request-Id is replaced by a generated 32-hex id."""
    headers = {"X-Request-Id": given} if given else {}
    result = asyncio.run(call(make_app(), "POST", CHECKOUT, b"{}", headers))
    assert result.headers["x-request-id"] != given
    assert len(result.headers["x-request-id"]) == 32
    int(result.headers["x-request-id"], 16)


def test_unknown_path_is_404_json() -> None:
    """An unknown path is a JSON 404."""
    result = asyncio.run(call(make_app(), "POST", "/api/stripe/nope", GOOD))
    assert (result.status, result.json()) == (404, {"error": "Not found"})
    assert result.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", CHECKOUT, "POST"), ("PUT", PORTAL, "POST"), ("POST", "/healthz", "GET")],
)
def test_wrong_method_is_405_with_allow(method: str, path: str, allow: str) -> None:
    """A known path with the wrong method is a JSON 405 naming the allowed method."""
    result = asyncio.run(call(make_app(), method, path))
    assert (result.status, result.json()) == (405, {"error": "Method not allowed"})
    assert result.headers["allow"] == allow


def test_body_over_limit_by_content_length_is_413() -> None:
    """A declared Content-Length over the limit is refused before reading."""
    result = asyncio.run(call(make_app(), "POST", CHECKOUT, b"{}", {"Content-Length": "1025"}))
    assert (result.status, result.json()) == (413, {"error": "Request body too large"})


def test_streamed_body_over_limit_is_413() -> None:
    """A body with no Content-Length that grows past the limit is refused."""
    payments = FakePayments()
    result = asyncio.run(call(make_app(payments), "POST", CHECKOUT, [b"{" + b" " * 600, b" " * 600 + b"}"]))
    assert (result.status, result.json()) == (413, {"error": "Request body too large"})
    assert payments.checkouts == []


def test_chunked_body_is_joined() -> None:
    """A body sent in several chunks is read whole."""
    result = asyncio.run(call(make_app(), "POST", CHECKOUT, [GOOD[:10], GOOD[10:40], GOOD[40:]]))
    assert result.status == 200


def test_malformed_json_is_400() -> None:
    """A body that is not JSON is a 400 with our message."""
    result = asyncio.run(call(make_app(), "POST", CHECKOUT, b'{"priceId": '))
    assert (result.status, result.json()) == (400, {"error": "Request body must be valid JSON"})


def test_unexpected_exception_is_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    """A bug in a handler is a generic 500 with no internals, logged with the request id."""

    class Broken(FakePayments):
        def create_checkout_session(self, params: Any, idempotency_key: str | None) -> str:
            raise KeyError("sk_live_secret_detail")

    with caplog.at_level(logging.ERROR, logger="handlers"):
        result = asyncio.run(call(make_app(Broken()), "POST", CHECKOUT, GOOD, {"X-Request-Id": "bug-1"}))
    assert (result.status, result.json()) == (500, {"error": "Internal server error"})
    assert b"sk_live" not in result.body
    assert any("request_id=bug-1" in record.getMessage() for record in caplog.records)


def test_two_stripe_calls_are_in_flight_at_once() -> None:
    """Two requests' Stripe calls overlap: each waits at a barrier only the other can release."""
    barrier = threading.Barrier(2, timeout=5)
    payments = FakePayments(on_call=barrier.wait)
    profiles = FakeProfiles(Profile(USER_ID, customer_id="cus_1"))
    app = make_app(payments, profiles)
    portal_body = json.dumps({"returnUrl": "https://app.example.com/account"}).encode()

    async def both() -> list[int]:
        results = await asyncio.gather(
            call(app, "POST", CHECKOUT, GOOD),
            call(app, "POST", PORTAL, portal_body, {"Authorization": f"Bearer {make_token()}"}),
        )
        return [result.status for result in results]

    assert asyncio.run(both()) == [200, 200]
    assert not barrier.broken
    assert len(payments.checkouts) == 1 and len(payments.portals) == 1


def test_client_gone_before_body_gets_no_answer() -> None:
    """A client that disconnects before its body arrives is dropped without an error."""
    app = make_app()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": CHECKOUT, "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    assert sent == []


def test_lifespan_starts_and_stops_the_pool() -> None:
    """Lifespan startup and shutdown are answered; shutdown stops the handler threads."""
    app = make_app()
    incoming: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    with pytest.raises(RuntimeError):
        app.executor.submit(print)


def test_refused_checkout_body_is_answered_on_the_event_loop() -> None:
    """A checkout body the contract refuses is answered without the handler thread pool."""
    app = make_app()
    app.executor.shutdown()
    result = asyncio.run(call(app, "POST", CHECKOUT, b"{}"))
    assert (result.status, result.json()) == (400, {"error": "Price ID is required"})
    for path, body in ((CHECKOUT, GOOD), (PORTAL, b"{}")):  # these need the handler: its thread
        head = app.router.head("POST", path, [])
        assert isinstance(head, Pending) and callable(app.router.body(head, body))


def test_error_body_that_breaks_the_error_schema_is_500_every_time() -> None:
    """An empty error message breaks error.json; the remembered check still refuses it the second time."""
    deps = make_router().deps
    broken = route(lambda request, deps: Response(400, {"error": ""}), contract.CHECKOUT_RESPONSE)
    router = Router(deps, {"/broken": {"POST": broken}})
    for _ in range(2):
        response = router.dispatch(Request("POST", "/broken"))
        assert (response.status, response.body) == (500, {"error": "Internal server error"})


class Unreadable(tuple[str, ...]):
    """A setting no check can read: a stand-in for a bug in a check that runs before the handler."""

    def __contains__(self, item: object) -> bool:
        raise RuntimeError("a bug in a check")


def test_a_check_that_crashes_before_the_handler_is_one_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    """A crash in the event-loop checks is the documented 500, logged once; the handler never runs."""
    payments = FakePayments()
    settings = Settings(allowed_redirect_origins=Unreadable(("https://app.example.com",)))
    app = App(make_router(payments, settings=settings), threads=2)

    with caplog.at_level(logging.ERROR, logger="handlers"):
        result = asyncio.run(call(app, "POST", CHECKOUT, GOOD, {"X-Request-Id": "crash-1"}))
    app.executor.shutdown()

    assert (result.status, result.json()) == (500, {"error": "Internal server error"})
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "unhandled error request_id=crash-1")
    ]
    assert payments.checkouts == []


def test_access_hears_every_answer_after_it_is_sent() -> None:
    """`access` hears method, path, status and request id of answers from head, body and handler alike."""
    heard: list[tuple[str, str, int, str]] = []

    def access(method: str, path: str, status: int, request_id: str, seconds: float) -> None:
        assert seconds >= 0
        heard.append((method, path, status, request_id))

    app = App(make_router(settings=SMALL), threads=1, access=access)
    asyncio.run(call(app, "GET", "/nowhere", headers={"X-Request-Id": "a-1"}))
    asyncio.run(call(app, "POST", CHECKOUT, b"{", {"X-Request-Id": "a-2"}))
    asyncio.run(call(app, "POST", CHECKOUT, GOOD, {"X-Request-Id": "a-3"}))
    app.executor.shutdown()

    assert heard == [
        ("GET", "/nowhere", 404, "a-1"),
        ("POST", CHECKOUT, 400, "a-2"),
        ("POST", CHECKOUT, 200, "a-3"),
    ]


def run_raw(app: App, scope: dict[str, Any], incoming: list[Message]) -> tuple[list[Message], list[Message]]:
    """Drive `app` with these messages; what it sent, and what it left unread."""
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, incoming


def recording_app(seen: list[Request], settings: Settings = SMALL, threads: int | None = 4) -> App:
    """An App whose only route, POST /x, records the request and the thread that ran it."""

    def record(request: Request, deps: object) -> Response:
        seen.append(request)
        return Response(200, {"url": f"https://checkout.stripe.com/{threading.current_thread().name}"})

    router = Router(
        make_router(settings=settings).deps, {"/x": {"POST": route(record, contract.CHECKOUT_RESPONSE)}}
    )
    return App(router, threads=threads)


def test_exactly_two_messages_are_sent_start_then_body() -> None:
    """The answer is one http.response.start and one http.response.body, as ASGI 3 spells them."""
    sent, _ = run_raw(
        make_app(),
        {"type": "http", "method": "GET", "path": "/nope", "headers": [(b"x-request-id", b"r-1")]},
        [{"type": "http.request", "body": b""}],
    )
    body = b'{"error":"Not found"}'
    assert sent == [
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", b"r-1"),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


def test_the_handler_gets_the_query_string_and_the_client_address_in_its_own_threads() -> None:
    """query_string and client reach the request; the handler runs on the App's `handler` threads."""
    seen: list[Request] = []
    result = asyncio.run(call(recording_app(seen), "POST", "/x", b"", query="a=1&b=%C3%A9"))
    assert [(request.query, request.client) for request in seen] == [("a=1&b=%C3%A9", "203.0.113.7")]
    assert result.json()["url"].startswith("https://checkout.stripe.com/handler_")


def test_a_scope_with_only_the_required_keys_is_answered() -> None:
    """No headers, query_string or client in the scope: none, empty and unknown; a message may omit body."""
    seen: list[Request] = []
    sent, _ = run_raw(
        recording_app(seen), {"type": "http", "method": "POST", "path": "/x"}, [{"type": "http.request"}]
    )
    assert sent[0]["status"] == 200
    assert [(request.headers, request.query, request.client, request.body) for request in seen] == [
        ((), "", "", b"")
    ]


def test_a_streamed_body_is_read_no_further_than_past_the_limit() -> None:
    """Past MAX_BODY_BYTES the app stops reading and answers 413: the rest is never received."""
    chunks: list[Message] = [
        {"type": "http.request", "body": b" " * 600, "more_body": True} for _ in range(5)
    ]
    sent, unread = run_raw(make_app(), {"type": "http", "method": "POST", "path": CHECKOUT}, chunks)
    assert (sent[0]["status"], len(unread)) == (413, 3)


def test_the_pool_has_worker_threads_threads_by_default() -> None:
    """WORKER_THREADS=2: a third handler cannot start while two are busy (they meet no third at a barrier)."""
    barrier = threading.Barrier(3, timeout=2)
    broken: list[bool] = []

    def wait(request: Request, deps: object) -> Response:
        try:
            barrier.wait()
            broken.append(False)
        except threading.BrokenBarrierError:
            broken.append(True)
        return Response(200, {"url": "https://checkout.stripe.com/c/pay/cs_test_1"})

    settings = Settings(supabase_url=SUPABASE_URL, supabase_jwt_secret=SECRET, worker_threads=2)
    router = Router(
        make_router(settings=settings).deps, {"/x": {"POST": route(wait, contract.CHECKOUT_RESPONSE)}}
    )
    app = App(router)

    async def three() -> list[int]:
        results = await asyncio.gather(*(call(app, "POST", "/x") for _ in range(3)))
        return [result.status for result in results]

    assert asyncio.run(three()) == [200, 200, 200]
    assert broken == [True, True, True]


def test_shutdown_waits_for_running_handlers_and_cancels_queued_ones() -> None:
    """lifespan.shutdown completes only after the running call ends; a call still queued never runs."""
    app = make_app()
    app.executor.shutdown()
    app.executor = ThreadPoolExecutor(max_workers=1)
    go = threading.Event()
    running = app.executor.submit(go.wait, 10)
    queued = app.executor.submit(print, "never")
    incoming: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    done_when_sent: list[bool] = []

    async def receive() -> Message:
        message = incoming.pop(0)
        if message["type"] == "lifespan.shutdown":
            threading.Timer(0.2, go.set).start()
        return message

    async def send(message: Message) -> None:
        done_when_sent.append(running.done())

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert done_when_sent == [False, True]
    assert queued.cancelled()


def test_a_body_exactly_at_the_limit_is_read_to_its_end() -> None:
    """MAX_BODY_BYTES in one chunk, then the empty last one: both are read, and the body is answered."""
    body = b"{" + b" " * 1022 + b"}"
    chunks: list[Message] = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]
    sent, unread = run_raw(make_app(), {"type": "http", "method": "POST", "path": CHECKOUT}, chunks)
    assert (len(body), sent[0]["status"], unread) == (1024, 400, [])


def test_streamed_messages_may_omit_body_and_more_body() -> None:
    """ASGI's defaults hold mid-stream too: no body is b"", no more_body is the last message."""
    seen: list[Request] = []
    chunks: list[Message] = [
        {"type": "http.request", "more_body": True},
        {"type": "http.request", "body": b'{"a"', "more_body": True},
        {"type": "http.request", "body": b":1}"},
    ]
    sent, unread = run_raw(recording_app(seen), {"type": "http", "method": "POST", "path": "/x"}, chunks)
    assert (sent[0]["status"], [request.body for request in seen], unread) == (200, [b'{"a":1}'], [])


def test_access_hears_the_time_from_the_head_to_the_last_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seconds are the clock read after the body was sent less the clock read when the head came."""
    readings = iter([100.0, 100.25])
    monkeypatch.setattr(time, "perf_counter", lambda: next(readings))
    heard: list[float] = []
    app = App(make_router(settings=SMALL), threads=1, access=lambda *args: heard.append(args[4]))

    asyncio.run(call(app, "GET", "/nowhere"))
    app.executor.shutdown()

    assert heard == [0.25]
