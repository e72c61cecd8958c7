"""handlers.__main__: `python -m handlers` serves the app on HOST:PORT until a signal; an address that
cannot be listened on is one line, before anything is built."""

from __future__ import annotations

import errno
import json
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


def free_port(host: str) -> int:
    """A port nothing listens on at `host` right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


Serve = Callable[..., Awaitable[None]]


def run_main(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, environ: dict[str, str], serve: Serve) -> None:
    """`python -m handlers` in a fresh process's logging, offline in tmp_path, hypercorn's serve replaced."""
    monkeypatch.chdir(tmp_path)  # offline mode keeps its local secrets under ./var
    for name, value in {"DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3", **environ}.items():
        monkeypatch.setenv(name, value)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh process
    monkeypatch.setattr(root, "level", logging.WARNING)
    monkeypatch.setattr(entry, "serve", serve)
    entry.main()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_main_serves_the_app_on_host_and_port_until_a_signal(
    stop: signal.Signals, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """hypercorn gets the app, HOST:PORT, no access log and our logger; the signal ends the serving."""
    served: list[tuple[object, Config]] = []

    async def serve(app: object, config: Config, *, shutdown_trigger: Callable[[], Awaitable[None]]) -> None:
        served.append((app, config))
        os.kill(os.getpid(), stop)
        await shutdown_trigger()

    port = free_port("127.0.0.1")
    run_main(monkeypatch, tmp_path, {"HOST": "127.0.0.1", "PORT": str(port)}, serve)

    ((app, config),) = served
    assert isinstance(app, App)
    assert (config.bind, config.accesslog) == ([f"127.0.0.1:{port}"], None)
    assert config.errorlog is logging.getLogger("hypercorn.error")
    root = logging.getLogger()
    (handler,) = root.handlers
    assert root.level == logging.INFO
    line = handler.format(
        logging.LogRecord("hypercorn.error", logging.INFO, __file__, 1, "ready", None, None)
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO hypercorn\.error ready", line)


def test_an_ipv6_host_is_bound_in_brackets(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """HOST=::1 reaches hypercorn as [::1]:PORT, the form its bind option reads."""
    binds: list[list[str]] = []

    async def serve(app: object, config: Config, *, shutdown_trigger: Callable[[], Awaitable[None]]) -> None:
        binds.append(config.bind)

    port = free_port("::1")
    run_main(monkeypatch, tmp_path, {"HOST": "::1", "PORT": str(port)}, serve)

    assert binds == [[f"[::1]:{port}"]]


def test_log_format_json_makes_hypercorns_lines_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """LOG_FORMAT=json: the root handler hypercorn logs through writes one JSON object per line."""

    async def serve(app: object, config: Config, *, shutdown_trigger: Callable[[], Awaitable[None]]) -> None:
        pass

    run_main(monkeypatch, tmp_path, {"LOG_FORMAT": "json", "PORT": str(free_port("127.0.0.1"))}, serve)

    (handler,) = logging.getLogger().handlers
    record = logging.LogRecord("hypercorn.error", logging.INFO, __file__, 1, "Running on %s", ("x",), None)
    line = json.loads(handler.format(record))
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "hypercorn.error", "Running on x")


def test_a_bad_setting_stops_main_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """A setting the service cannot start with: one line naming it, and nothing served."""

    async def serve(app: object, config: Config, *, shutdown_trigger: Callable[[], Awaitable[None]]) -> None:
        raise AssertionError("served")

    with pytest.raises(SystemExit) as stopped:
        run_main(monkeypatch, tmp_path, {"PORT": "0"}, serve)

    assert stopped.value.code == "configuration error: PORT must be between 1 and 65535, got '0'"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(
            OSError(errno.EADDRINUSE, "Address in use"),
            "the address is already in use (set PORT)",
            id="in-use",
        ),
        pytest.param(
            OSError(errno.EADDRNOTAVAIL, "Cannot assign"),
            "HOST is not an address of this machine",
            id="not-ours",
        ),
        pytest.param(
            OSError(errno.EACCES, "Permission denied"),
            "permission denied (ports below 1024 need privileges; set PORT)",
            id="privileged",
        ),
        pytest.param(OSError(errno.EMFILE, "Too many open files"), "Too many open files", id="other-errno"),
        pytest.param(OSError(), "OSError", id="no-errno"),
        pytest.param(PermissionError(), "PermissionError", id="subclass"),
    ],
)
def test_an_address_taken_after_the_check_is_one_line(
    error: OSError, reason: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """hypercorn's bind failing after the check: one line with the address and why, no traceback."""

    async def serve(app: object, config: Config, *, shutdown_trigger: Callable[[], Awaitable[None]]) -> None:
        raise error

    port = free_port("127.0.0.1")
    with pytest.raises(SystemExit) as stopped:
        run_main(monkeypatch, tmp_path, {"PORT": str(port)}, serve)

    assert stopped.value.code == f"cannot listen on 127.0.0.1:{port}: {reason}"


def test_a_port_left_in_time_wait_is_free() -> None:
    """A restarted server's port, its last connection closing (TIME_WAIT), passes: hypercorn binds it."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as hypercorn's listener had
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the side that closes first keeps the port in TIME_WAIT
            client.recv(1)
    check_address("127.0.0.1", port)


@pytest.mark.parametrize("taken", [True, False], ids=["port-in-use", "host-not-ours"])
def test_main_stops_on_an_address_it_cannot_listen_on(
    taken: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The HOST:PORT main checks is the configured one: a taken port or a foreign HOST, and nothing served."""

    async def serve(app: object, config: Config, *, shutdown_trigger: Callable[[], Awaitable[None]]) -> None:
        raise AssertionError("served")

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        host = "127.0.0.1" if taken else "192.0.2.1"
        with pytest.raises(SystemExit) as stopped:
            run_main(monkeypatch, tmp_path, {"HOST": host, "PORT": str(port)}, serve)

    reason = "the address is already in use (set PORT)" if taken else "HOST is not an address of this machine"
    assert stopped.value.code == f"cannot listen on {host}:{port}: {reason}"
