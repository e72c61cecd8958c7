"""`python -m handlers`: serve the app with hypercorn in this process, on HOST:PORT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config

from .app import create_app
from .settings import Settings, SettingsError


def main() -> None:
    """Start hypercorn on the configured address and stop cleanly on SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    app = create_app()
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    # Handing hypercorn a logger makes it log through ours, not print each line a second time itself.
    config.errorlog = logging.getLogger("hypercorn.error")
    asyncio.run(_serve(app, config))


async def _serve(app: object, config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
