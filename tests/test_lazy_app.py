"""handlers.lazy_app and handlers.app:app: built at lifespan start, or at the first request without one."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.asgi import App, Message
from handlers.lazy_app import LazyApp
from tests.helpers.asgi_client import call
from tests.helpers.fakes import make_router

ROOT = Path(__file__).resolve().parent.parent


class Builds:
    """A build function that counts its calls and can refuse the configuration."""

    def __init__(self, refuse: str | None = None) -> None:
        self.calls = 0
        self.refuse = refuse

    def __call__(self) -> App:
        self.calls += 1
        if self.refuse is not None:
            raise SystemExit(self.refuse)
        return App(make_router(), threads=1)


def lifespan(app: LazyApp, path: str | None = None) -> tuple[list[Message], int | None]:
    """Start the lifespan, GET `path` while it runs (if given), shut down; what it sent, the GET's status."""
    incoming: asyncio.Queue[Message] = asyncio.Queue()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def run() -> int | None:
        task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, incoming.get, send))
        await incoming.put({"type": "lifespan.startup"})
        while not sent:
            await asyncio.sleep(0.01)
        status = (await call(app, "GET", path)).status if path and not task.done() else None  # type: ignore[arg-type]
        await incoming.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 10)
        return status

    status = asyncio.run(run())
    return sent, status


def test_importing_the_module_level_app_does_no_io(tmp_path: Path) -> None:
    """`import handlers.app` in a fresh folder creates nothing (no var/) and builds nothing."""
    code = "import handlers.app as a; print(type(a.app).__name__, a.app._app is None)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert done.stdout == "LazyApp True\n"
    assert list(tmp_path.iterdir()) == []


def test_lifespan_start_builds_once_and_the_app_answers() -> None:
    """Startup builds the service and completes; later requests use it without building again."""
    builds = Builds()
    app = LazyApp(builds)

    sent, status = lifespan(app, "/healthz")

    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert (builds.calls, status) == (1, 200)


def test_a_refused_configuration_fails_the_lifespan_with_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The host is told startup failed, with the one line that says why (also printed)."""
    app = LazyApp(Builds("configuration error: PORT must be a number, got 'x'"))

    sent, _ = lifespan(app)

    assert sent == [
        {"type": "lifespan.startup.failed", "message": "configuration error: PORT must be a number, got 'x'"}
    ]
    assert capsys.readouterr().err == "configuration error: PORT must be a number, got 'x'\n"


def test_without_a_lifespan_the_first_request_builds() -> None:
    """Daphne sends no lifespan: the first request builds, the second reuses it."""
    builds = Builds()
    app = LazyApp(builds)

    first = asyncio.run(call(app, "GET", "/healthz"))  # type: ignore[arg-type]
    second = asyncio.run(call(app, "GET", "/healthz"))  # type: ignore[arg-type]

    assert (first.status, second.status, builds.calls) == (200, 200, 1)


def test_without_a_service_every_request_is_a_json_500(capsys: pytest.CaptureFixture[str]) -> None:
    """A refused configuration and no lifespan: 500 JSON each time, the reason printed once."""
    builds = Builds("configuration error: bad")
    app = LazyApp(builds)

    results = [asyncio.run(call(app, "GET", "/healthz")) for _ in range(2)]  # type: ignore[arg-type]

    assert [(r.status, r.json(), r.headers["content-type"]) for r in results] == [
        (500, {"error": "Internal server error"}, "application/json")
    ] * 2
    assert builds.calls == 1
    assert capsys.readouterr().err == "configuration error: bad\n"


def test_the_500_without_a_service_is_exactly_two_asgi_messages(capsys: pytest.CaptureFixture[str]) -> None:
    """The start, typed JSON with its length, then the body: what any ASGI host can send as it is."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/healthz", "headers": []}
    asyncio.run(LazyApp(Builds("configuration error: bad"))(scope, receive, send))

    body = b'{"error":"Internal server error"}'
    assert sent == [
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"33")],
        },
        {"type": "http.response.body", "body": body},
    ]
    assert len(body) == 33
    capsys.readouterr()


def test_get_refuses_again_with_the_same_reason_without_building_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After a refused build every get() is SystemExit with the configuration error; it is printed once."""
    builds = Builds("configuration error: PORT must be a number, got 'x'")
    app = LazyApp(builds)

    codes = []
    for _ in range(2):
        with pytest.raises(SystemExit) as stop:
            app.get()
        codes.append(stop.value.code)

    assert codes == ["configuration error: PORT must be a number, got 'x'"] * 2
    assert builds.calls == 1
    assert capsys.readouterr().err == "configuration error: PORT must be a number, got 'x'\n"


class Flushes(io.StringIO):
    """A stderr that notes what it held each time it was flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_the_reason_is_flushed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host may end the process right after a refused build: the line is not left in a buffer."""
    stderr = Flushes()
    monkeypatch.setattr(sys, "stderr", stderr)

    with pytest.raises(SystemExit):
        LazyApp(Builds("configuration error: bad")).get()

    assert stderr.flushed == ["configuration error: bad\n"]
