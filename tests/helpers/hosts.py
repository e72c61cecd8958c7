"""Service processes started by a command line: the README's host commands, a clean venv's, the factory's.

`tests/helpers/servers.py` starts the service the way the older tests do; this runs any command line,
waits (bounded) until something answers /healthz, and always stops the whole process group.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.helpers.servers import ROOT, free_port

HOSTS = ("hypercorn", "uvicorn", "granian", "daphne")
UP_SECONDS = 60.0
LOG_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


@dataclass(frozen=True)
class Running:
    """A service process and where to reach it; `output` collects its stdout and stderr."""

    url: str
    port: int
    folder: Path
    output: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.output.read_text("utf-8", "replace")

    def log_with(self, text: str, seconds: float = 10.0) -> str:
        """The output once it holds `text` (a line logged after its response was sent comes a bit later)."""
        deadline = time.monotonic() + seconds
        while text not in (log := self.log()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return log


def readme_commands(readme: Path = ROOT / "README.md") -> dict[str, str]:
    """The host commands of the README's "Deploying" section, by host name, exactly as written there."""
    text = readme.read_text("utf-8")
    section = text.split("\n## Deploying", 1)[1].split("\n## ", 1)[0]
    found: dict[str, str] = {}
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            name = command.split(" ", 1)[0]
            if name in HOSTS:
                found.setdefault(name, command)
    return found


def local(command: str, port: int, bin_dir: Path = Path(sys.executable).parent) -> list[str]:
    """A README command bound to 127.0.0.1:`port`, its program taken from `bin_dir`."""
    words = shlex.split(command)
    words[0] = str(bin_dir / words[0])
    address = {"0.0.0.0:8000": f"127.0.0.1:{port}", "0.0.0.0": "127.0.0.1", "8000": str(port)}
    return [address.get(word, word) for word in words]


def clean_env(**settings: str) -> dict[str, str]:
    """Only PATH, HOME, LANG and TMPDIR of the developer's environment, and `settings`."""
    kept = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "TMPDIR")}
    return kept | settings


@contextmanager
def running(
    argv: Sequence[str],
    folder: Path,
    port: int,
    env: Mapping[str, str],
    *,
    healthy: bool = True,
    up_seconds: float = UP_SECONDS,
) -> Iterator[Running]:
    """Start `argv` in `folder`, wait until /healthz answers (200 when `healthy`), stop the group after."""
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / "output.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            list(argv),
            cwd=folder,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Running(f"http://127.0.0.1:{port}", port, folder, output, process)
        try:
            wait_for(server, healthy, up_seconds)
            yield server
        finally:
            stop(process)


def wait_for(server: Running, healthy: bool, seconds: float) -> None:
    """Return once /healthz answers (200 when `healthy`); raise with the output if the process exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"exited with {server.process.returncode}:\n{server.log()}")
        try:
            status = requests.get(f"{server.url}/healthz", timeout=5).status_code
            if status == 200 or not healthy:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/healthz did not answer within {seconds} s:\n{server.log()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (a host's workers too), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers the host left behind
    except ProcessLookupError:
        pass


def start_once(
    argv: Sequence[str], folder: Path, env: Mapping[str, str], seconds: float = 60
) -> tuple[int, str]:
    """Run a command that should stop by itself (a refused start-up): its exit code and output."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        list(argv), cwd=folder, env=dict(env), capture_output=True, text=True, timeout=seconds, check=False
    )
    return done.returncode, done.stdout + done.stderr


__all__ = ["LOG_TIME", "ROOT", "Running", "clean_env", "free_port", "local", "readme_commands", "running"]
