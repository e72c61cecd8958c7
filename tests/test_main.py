"""handlers.__main__: `python -m handlers` serves the app on HOST:PORT until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import os
import re
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypercorn.config import Config

import handlers.__main__ as entry
from handlers.asgi import App


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
