"""`python -m handlers` (scripts/serve): hypercorn in this process on HOST:PORT; an address it cannot
listen on (in use, unresolvable, not this machine's) stops it with one line, before anything is built."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket

from hypercorn.asyncio import serve
from hypercorn.config import Config

from .app import create_app
from .logs import JSONFormatter
from .settings import Settings, SettingsError

_WHY: dict[int | None, str] = {
    errno.EADDRINUSE: "the address is already in use (set PORT)",
    errno.EADDRNOTAVAIL: "HOST is not an address of this machine",
    errno.EACCES: "permission denied (ports below 1024 need privileges; set PORT)",
}


def main() -> None:
    """Check the address, build the app, start hypercorn, and stop cleanly on SIGINT or SIGTERM."""
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    check_address(settings.host, settings.port)
    # hypercorn's own lines ("Running on ...") go through the root logger; ours have their own handler.
    root = logging.StreamHandler()
    root.setFormatter(
        JSONFormatter()
        if settings.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[root])
    app = create_app()
    config = Config()
    config.bind = [f"{_bracketed(settings.host)}:{settings.port}"]
    config.accesslog = None  # the app logs one access line per request itself (ACCESS_LOG)
    # Handing hypercorn a logger makes it log through ours, not print each line a second time itself.
    config.errorlog = logging.getLogger("hypercorn.error")
    try:
        asyncio.run(_serve(app, config))
    except OSError as exc:  # the address was taken between the check and the bind
        raise SystemExit(f"cannot listen on {settings.host}:{settings.port}: {_reason(exc)}") from None


def check_address(host: str, port: int) -> None:
    """SystemExit with one line unless a socket can be bound to (host, port) right now."""
    where = f"cannot listen on {host}:{port}"
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        raise SystemExit(f"{where}: HOST does not resolve to an address") from None
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)  # as hypercorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise SystemExit(f"{where}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    return _WHY.get(exc.errno, exc.strerror or type(exc).__name__)


def _bracketed(host: str) -> str:
    # An IPv6 HOST comes bare: a bracketed one does not resolve, so check_address has stopped it already.
    return f"[{host}]" if ":" in host else host


async def _serve(app: object, config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
