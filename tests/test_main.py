"""handlers.__main__: `python -m handlers` serves the app on HOST:PORT until a signal; an address that
cannot be listened on is one line, before anything is built."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypercorn.config import Config

import handlers.__main__ as entry
from handlers.__main__ import check_address
from handlers.asgi import App


def test_a_port_in_use_is_named() -> None:
    """A port another socket listens on: one line naming the address and PORT."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            check_address("127.0.0.1", port)

    assert (
        stopped.value.code == f"cannot listen on 127.0.0.1:{port}: the address is already in use (set PORT)"
    )


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        pytest.param("host..invalid", "HOST does not resolve to an address", id="unresolvable"),
        pytest.param("192.0.2.1", "HOST is not an address of this machine", id="not-ours"),
    ],
)
def test_a_host_that_cannot_be_used_is_named(host: str, reason: str) -> None:
    """A HOST that names no address, or another machine's: one line saying which."""
    with pytest.raises(SystemExit) as stopped:
        check_address(host, 8000)

    assert stopped.value.code == f"cannot listen on {host}:8000: {reason}"


def test_a_free_address_passes() -> None:
    """A free loopback port is accepted (and left free)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_address("127.0.0.1", port)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_main_serves_the_app_on_host_and_port_until_a_signal(
    stop: signal.Signals, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """hypercorn gets the app, HOST:PORT, no access log and our logger; the signal ends the serving."""
    monkeypatch.chdir(tmp_path)  # offline mode keeps its local secrets under ./var
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/p.sqlite3")
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh process
    monkeypatch.setattr(root, "level", logging.WARNING)
    served: list[tuple[object, Config]] = []

    async def serve(app: object, config: Config, *, shutdown_trigger: Callable[[], Awaitable[None]]) -> None:
        served.append((app, config))
        os.kill(os.getpid(), stop)
        await shutdown_trigger()

    monkeypatch.setattr(entry, "serve", serve)
    entry.main()

    ((app, config),) = served
    assert isinstance(app, App)
    assert (config.bind, config.accesslog) == (["127.0.0.1:8123"], None)
    assert config.errorlog is logging.getLogger("hypercorn.error")
    (handler,) = root.handlers
    assert root.level == logging.INFO
    line = handler.format(logging.LogRecord("handlers", logging.INFO, __file__, 1, "ready", None, None))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO handlers ready", line)
