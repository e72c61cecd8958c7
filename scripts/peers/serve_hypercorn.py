"""Serve one app factory with hypercorn in this process, as `python -m handlers` serves the service.

python scripts/peers/serve_hypercorn.py fastapi_app:create_app PORT
"""

from __future__ import annotations

import asyncio
import importlib
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config


def main() -> None:
    """Import MODULE:FACTORY (from this folder or the path), call it, serve on 127.0.0.1:PORT."""
    target, port = sys.argv[1], sys.argv[2]
    module, _, factory = target.partition(":")
    app = getattr(importlib.import_module(module), factory)()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
