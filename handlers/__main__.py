"""`python -m handlers`: serve the app with hypercorn in this process, on HOST:PORT."""

from __future__ import annotations

import asyncio
import logging
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config

from .app import create_app


def main() -> None:
    """Start hypercorn on the configured address and stop cleanly on SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app()
    settings = app.router.deps.settings
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
