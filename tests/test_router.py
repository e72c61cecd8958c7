"""handlers.router: matching, limits, the one translation of errors into bodies, the contract, the bytes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from handlers.http import HTTPError, Request, Response
from handlers.ports import KeysUnavailable, PaymentsError, StoreError
from handlers.router import Answer, Pending, Router, _json_encoder, checked_route, request_id, route
from handlers.settings import Settings
from tests.helpers.fakes import SECRET, SUPABASE_URL, make_router

URL = "https://checkout.stripe.com/c/pay/cs_test_1"
SMALL = Settings(
    supabase_url=SUPABASE_URL,
    supabase_jwt_secret=SECRET,
    max_body_bytes=16,
    allowed_origins=("https://app.example.com",),
)


def router_with(path: str, handler: Any, ok: str = "create-checkout.response.json") -> Router:
    """A Router over fakes whose only route is POST `path` -> `handler`."""
    return Router(make_router(settings=SMALL).deps, {path: {"POST": route(handler, ok)}})


def raises(exc: Exception) -> Any:
    """A handler that raises `exc`."""

    def handler(request: Request, deps: object) -> Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "status", "message"),
    [
        pytest.param(HTTPError(400, "Price ID is required"), 400, "Price ID is required", id="http-error"),
        pytest.param(PaymentsError("No such price: 'p'"), 500, "No such price: 'p'", id="payments"),
        pytest.param(
            KeysUnavailable("jwks down"),
            500,
            "Your session could not be verified right now. Please try again.",
            id="keys",
        ),
        pytest.param(
            StoreError("db down"),
            500,
            "Billing information is unavailable right now. Please try again.",
            id="store",
        ),
        pytest.param(KeyError("sk_live_detail"), 500, "Internal server error", id="unexpected"),
    ],
)
def test_every_error_becomes_its_documented_body(
    exc: Exception, status: int, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """HTTPError, each port error and anything else become exactly one JSON body; only bugs are logged."""
    with caplog.at_level(logging.ERROR, logger="handlers"):
        response = router_with("/x", raises(exc)).dispatch(Request("POST", "/x", request_id="rid-1"))
    assert (response.status, response.body) == (status, {"error": message})
    logged = [record.getMessage() for record in caplog.records]
    assert logged == (["unhandled error request_id=rid-1"] if message == "Internal server error" else [])


def test_response_that_breaks_its_schema_is_500() -> None:
    """A handler answer that does not match its response schema never reaches the client."""
    router = router_with("/broken", lambda request, deps: Response(200, {"link": "x"}))
    response = router.dispatch(Request("POST", "/broken"))
    assert (response.status, response.body) == (500, {"error": "Internal server error"})


def test_error_body_that_breaks_the_error_schema_is_500_every_time() -> None:
    """An empty error message breaks error.json, and is refused each time it is answered."""
    router = router_with("/broken", lambda request, deps: Response(400, {"error": ""}))
    for _ in range(2):
        response = router.dispatch(Request("POST", "/broken"))
        assert (response.status, response.body) == (500, {"error": "Internal server error"})


def test_json_bodies_are_compact_utf_8_as_json_dumps_writes_them() -> None:
    """Every JSON answer is json.dumps's compact form, non-ASCII text kept as UTF-8."""
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "x.json",
        "text": ['\u00e9\u2028"\\\n\t\x00', "\U0001f600"],
        "numbers": [0, -1, 2.5, 1e300, 10**30],
        "other": {"null": None, "yes": True, "no": False, "empty": {}, "list": []},
    }
    router = router_with("/j", lambda request, deps: Response(200, body), "schema.response.json")
    answer = router.respond("POST", "/j", [], b"")
    expected = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert (answer.status, answer.body) == (200, expected)
    assert ("content-length", str(len(expected))) in answer.headers


def test_a_checked_route_parses_once_and_hands_on_what_its_check_made() -> None:
    """The pure check runs when the body arrives; the handler's call gets exactly what it returned."""
    seen: list[object] = []
    given: list[tuple[Request, object]] = []

    def check(request: Request, deps: object) -> dict[str, Any]:
        seen.append("check")
        given.append((request, deps))
        body: dict[str, Any] = json.loads(request.body)
        return body

    def handler(request: Request, deps: object, body: dict[str, Any]) -> Response:
        seen.append(body)
        given.append((request, deps))
        return Response(200, {"url": body["url"]})

    checked = checked_route(check, handler, "create-checkout.response.json")
    router = Router(make_router().deps, {"/c": {"POST": checked}})
    raw = json.dumps({"url": URL}).encode()
    head = router.head("POST", "/c", [])
    assert isinstance(head, Pending)
    step = router.body(head, raw)
    assert seen == ["check"]
    assert callable(step) and step().body == raw.replace(b" ", b"")
    assert seen == ["check", {"url": URL}]
    # Both get the request as it arrived and the router's dependencies.
    assert [(request.path, request.body, deps is router.deps) for request, deps in given] == [
        ("/c", raw, True),
        ("/c", raw, True),
    ]


def test_a_refusal_of_the_check_needs_no_call() -> None:
    """What the check refuses is answered at once, as an Answer, with its documented body."""

    def check(request: Request, deps: object) -> None:
        raise HTTPError(400, "Price ID is required")

    def never(request: Request, deps: object, body: None) -> Response:
        raise AssertionError("the handler must not run")

    router = Router(make_router(settings=SMALL).deps, {"/c": {"POST": checked_route(check, never, "x")}})
    head = router.head("POST", "/c", [("X-Request-Id", "r1")])
    assert isinstance(head, Pending)
    answer = router.body(head, b"{}")
    body = b'{"error":"Price ID is required"}'
    assert answer == Answer(
        400,
        [
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            ("x-request-id", "r1"),
            ("vary", "Origin"),
        ],
        body,
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        pytest.param("POST", "/x", 200, None, id="exact"),
        pytest.param("post", "/x", 200, None, id="method-any-case"),
        pytest.param("GET", "/x", 405, "POST", id="wrong-method"),
        pytest.param("POST", "/x/", 404, None, id="trailing-slash"),
        pytest.param("GET", "/pages/abc", 200, None, id="prefix-one-segment"),
        pytest.param("GET", "/pages/", 404, None, id="prefix-no-segment"),
        pytest.param("GET", "/pages/a/b", 404, None, id="prefix-two-segments"),
        pytest.param("POST", "/pages/abc", 405, "GET", id="prefix-wrong-method"),
    ],
)
def test_matching(method: str, path: str, status: int, allow: str | None) -> None:
    """Exact paths, prefix routes with one id segment, 404 and 405 with Allow."""
    router = router_with("/x", lambda request, deps: Response(200, {"url": URL}))
    page = route(
        lambda request, deps: Response(200, b"<p>page</p>", (("content-type", "text/html"),)), "error.json"
    )
    router.add_prefix("/pages/", {"GET": page})
    answer = router.respond(method, path, [], b"")
    assert answer.status == status
    assert dict(answer.headers).get("allow") == allow


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param([("Content-Length", "17")], b"{}", id="declared"),
        pytest.param([], b"{" + b" " * 16 + b"}", id="sent"),
    ],
)
def test_bodies_over_the_limit_are_413(headers: list[tuple[str, str]], body: bytes) -> None:
    """Over MAX_BODY_BYTES, by Content-Length before the body or by the body itself."""
    router = router_with("/x", raises(AssertionError("the handler must not run")))
    answer = router.respond("POST", "/x", headers, body)
    assert (answer.status, answer.body) == (413, b'{"error":"Request body too large"}')


def test_a_page_is_sent_as_its_own_bytes_and_a_204_has_no_content_type() -> None:
    """Bytes bodies skip JSON and the contract; a preflight 204 is empty, labelled once, untyped."""
    html = Response(200, b"<p>hi</p>", (("content-type", "text/html; charset=utf-8"),))
    router = router_with("/page", lambda request, deps: html)
    page = router.respond("POST", "/page", [("X-Request-Id", "p")], b"")
    assert (page.body, page.headers[:3]) == (
        b"<p>hi</p>",
        [("content-length", "9"), ("x-request-id", "p"), ("content-type", "text/html; charset=utf-8")],
    )
    preflight = router.respond("OPTIONS", "/page", [("Origin", "https://app.example.com")], b"")
    names = [name for name, _ in preflight.headers]
    assert (preflight.status, preflight.body, "content-type" in names) == (204, b"", False)
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        pytest.param("req-1.a:b_c", True, id="safe"),
        pytest.param("x" * 128, True, id="longest"),
        pytest.param("x" * 129, False, id="too-long"),
        pytest.param("has space", False, id="space"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="none"),
    ],
)
def test_request_id(given: str | None, kept: bool) -> None:
    """A safe caller id is echoed; anything else becomes a fresh 32-hex id."""
    made = request_id(given)
    if kept:
        assert made == given
    else:
        assert len(made) == 32 and int(made, 16) >= 0


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, object]]:
    """The handlers' log records: level, message, and the exception whose traceback each carries."""
    return [
        (r.levelno, r.getMessage(), r.exc_info[1] if r.exc_info else None)
        for r in caplog.records
        if r.name == "handlers"
    ]


def test_an_unexpected_error_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """The log line names the request and carries the exception, so the bug can be found."""
    bug = KeyError("detail")
    with caplog.at_level(logging.ERROR, logger="handlers"):
        answer = router_with("/x", raises(bug)).respond("POST", "/x", [("X-Request-Id", "rid-9")], b"")
    assert (answer.status, answer.body) == (500, b'{"error":"Internal server error"}')
    assert records(caplog) == [(logging.ERROR, "unhandled error request_id=rid-9", bug)]


def test_a_check_that_fails_unexpectedly_is_500_through_dispatch_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """dispatch never raises: a bug in a route's pure check is the logged 500 as well."""
    bug = RuntimeError("check broke")

    def check(request: Request, deps: object) -> None:
        raise bug

    router = Router(make_router().deps, {"/c": {"POST": checked_route(check, raises(bug), "x")}})
    with caplog.at_level(logging.ERROR, logger="handlers"):
        response = router.dispatch(Request("POST", "/c", request_id="rid-3"))
    assert (response.status, response.body) == (500, {"error": "Internal server error"})
    assert records(caplog) == [(logging.ERROR, "unhandled error request_id=rid-3", bug)]


@pytest.mark.parametrize(
    ("handler", "logged"),
    [
        pytest.param(
            lambda request, deps: Response(200, {"link": "x"}),
            "response breaks create-checkout.response.json request_id=rid-4: Request body is invalid",
            id="answer",
        ),
        pytest.param(
            raises(HTTPError(400, "")),
            "response breaks error.json request_id=rid-4: Request body is invalid",
            id="error",
        ),
        pytest.param(
            lambda request, deps: Response(400, {"error": "Price ID is required", "detail": "x"}),
            "response breaks error.json request_id=rid-4: Request body is invalid",
            id="error-with-more",
        ),
    ],
)
def test_a_body_that_breaks_its_schema_is_500_and_the_log_says_which(
    handler: Any, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Answers and errors alike are checked (an error body is exactly one message); the log names both."""
    with caplog.at_level(logging.ERROR, logger="handlers"):
        answer = router_with("/x", handler).respond("POST", "/x", [("X-Request-Id", "rid-4")], b"")
    assert (answer.status, answer.body) == (500, b'{"error":"Internal server error"}')
    assert records(caplog) == [(logging.ERROR, logged, None)]


def test_a_route_checks_its_errors_against_its_own_error_schema() -> None:
    """/healthz's 503 is a health body, not {"error": ...}: its route names health.response.json for both."""
    down = {"status": "unavailable", "profiles": "unavailable"}
    health = route(lambda request, deps: Response(503, down), "health.response.json", "health.response.json")
    router = Router(make_router().deps, {"/healthz": {"GET": health}})
    response = router.dispatch(Request("GET", "/healthz"))
    assert (response.status, response.body) == (503, down)


class BrokenCORS:
    """The router's CORS, with one of its steps failing as a bug would."""

    def __init__(self, cors: Any, broken: str) -> None:
        self.cors, self.broken = cors, broken

    def __getattr__(self, name: str) -> Any:
        if name == self.broken:
            raise_it = RuntimeError(f"{name} broke")

            def fail(*args: object) -> None:
                raise raise_it

            return fail
        return getattr(self.cors, name)


@pytest.mark.parametrize("broken", ["preflight", "label"])
def test_a_failure_before_or_after_the_route_is_still_a_json_500_with_the_request_id(
    broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Even when answering a preflight or labelling the answer fails, the client gets the documented 500."""
    router = router_with("/x", lambda request, deps: Response(200, {"url": URL}))
    router.cors = BrokenCORS(router.cors, broken)  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR, logger="handlers"):
        answer = router.respond("POST", "/x", [("X-Request-Id", "rid-5")], b"")
    body = b'{"error":"Internal server error"}'
    assert answer.status == 500 and answer.body == body
    assert answer.headers[:3] == [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("x-request-id", "rid-5"),
    ]
    assert [(level, message, str(exc)) for level, message, exc in records(caplog)] == [
        (logging.ERROR, "unhandled error request_id=rid-5", f"{broken} broke")
    ]


def test_a_body_exactly_at_the_limit_is_read() -> None:
    """MAX_BODY_BYTES itself is allowed, declared or sent; one byte more is 413 (see above)."""
    router = router_with("/x", lambda request, deps: Response(200, {"url": URL}))
    body = b"{" + b" " * 14 + b"}"
    answer = router.respond("POST", "/x", [("Content-Length", str(len(body)))], body)
    assert (len(body), answer.status) == (16, 200)


def test_the_handler_gets_the_query_and_the_client_as_given_else_empty() -> None:
    """respond (and head, body) hand the query string and the caller's address on to the request."""
    seen: list[tuple[str, str]] = []

    def record(request: Request, deps: object) -> Response:
        seen.append((request.query, request.client))
        return Response(200, {"url": URL})

    router = router_with("/x", record)
    router.respond("POST", "/x", [], b"", "a=1", "203.0.113.9")
    router.respond("POST", "/x", [], b"")
    head = router.head("POST", "/x", [])
    assert isinstance(head, Pending)
    step = router.body(head, b"")
    assert callable(step) and step().status == 200
    assert seen == [("a=1", "203.0.113.9"), ("", ""), ("", "")]


# The encoder is made once at import (before any test runs), so its choices are pinned on the function itself.
ENCODED = [
    {"error": '\u00e9"\\\n\x00\U0001f600', "n": [0, -1, 2.5, 1e300, 10**30, None, True, False]},
    {"z": {"b": [], "a": {}}, "a": [float("nan"), float("inf"), -float("inf")]},
    ["top", "level"],
    "text",
]


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_the_response_encoder_writes_and_refuses_what_json_dumps_does() -> None:
    """Same text for every JSON value (key order kept, NaN written), same TypeError for what is not JSON."""
    encode = _json_encoder()
    assert [encode(value) for value in ENCODED] == [compact(value) for value in ENCODED]
    for value in [{"s": {1}}, {(1, 2): 0}]:
        with pytest.raises(TypeError) as expected:
            compact(value)
        with pytest.raises(TypeError) as found:
            encode(value)
        assert str(found.value) == str(expected.value)


def test_the_c_encoder_is_made_once_not_per_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """json.dumps makes a C encoder per call (a third of an error body's cost); the router's is made once."""
    real = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    made: list[tuple[object, ...]] = []

    def counting(*args: object) -> Any:
        made.append(args)
        return real(*args)

    monkeypatch.setattr(json.encoder, "c_make_encoder", counting)
    encode = _json_encoder()
    built = len(made)
    assert [encode({"error": n}) for n in "abc"] == ['{"error":"a"}', '{"error":"b"}', '{"error":"c"}']
    assert len(made) == built


C_MAKE = json.encoder.c_make_encoder  # type: ignore[attr-defined]


def escaping(*args: object) -> Any:
    """A C encoder maker that writes non-ASCII as \\u escapes, whatever it is asked."""
    return C_MAKE(args[0], args[1], json.encoder.encode_basestring_ascii, *args[3:])


def refusing(*args: object) -> Any:
    raise TypeError("another signature")


@pytest.mark.parametrize("make", [None, refusing, escaping], ids=["none", "refusing", "escaping"])
def test_without_a_c_encoder_that_agrees_the_plain_encoder_is_used(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No C encoder (PyPy), one that refuses our arguments or one that writes otherwise: json's own path."""
    with monkeypatch.context() as patched:
        patched.setattr(json.encoder, "c_make_encoder", make)
        encode = _json_encoder()
    assert [encode(value) for value in ENCODED] == [compact(value) for value in ENCODED]


def test_the_first_of_repeated_request_id_and_content_length_headers_counts() -> None:
    """A second X-Request-Id is not echoed, a second Content-Length does not lift the first one's 413."""
    router = router_with("/x", raises(AssertionError("the handler must not run")))
    headers = [("X-Request-Id", "first"), ("Content-Length", "17"), ("X-Request-Id", "second")]
    answer = router.respond("POST", "/x", [*headers, ("Content-Length", "2")], b"{}")
    assert (answer.status, dict(answer.headers)["x-request-id"]) == (413, "first")
