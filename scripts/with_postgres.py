"""Run a command beside one throwaway PostgreSQL server, its URL in TEST_POSTGRES_URL; stop the server after.

Usage: with_postgres.py COMMAND [ARG ...]   (scripts/mutate runs mutmut so: each mutant's tests copy its
database instead of starting a server of their own.) Exits with the command's status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import SHARED_POSTGRES
from tests.helpers.postgres import postgres_server


def main(argv: list[str]) -> int:
    """Start the server, run `argv` with its URL in the environment, stop the server."""
    if not argv:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    with postgres_server() as url:
        return subprocess.run(argv, env={**os.environ, SHARED_POSTGRES: url}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
