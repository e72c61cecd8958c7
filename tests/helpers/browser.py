"""For the browser tests: Chromium on loopback, a frontend page server, the service with an access log."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.helpers.servers import ROOT, Server, free_port, service_env, stop, wait_until_up

CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (root in CI), nothing fetched in the background, and no name resolves but loopback.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOG_SECONDS = 10.0
# One access-log line per request: method, path, the query that tags it, status, Origin.
ACCESS_LOG_FORMAT = "%(m)s %(U)s %(q)s %(s)s %({origin}i)s"
_ACCESS_LINE = re.compile(r" ([A-Z]+) (\S+) (t=\S+) (\d{3}) (\S+)$")

# The frontend: `callApi` is what its buttons use; Buy and Billing do what ButtonCheckout and
# ButtonAccount do (post, then go to the returned URL), and keep each answer in sessionStorage.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Frontend</title>
<script>
async function callApi(url, init) {
  try {
    const response = await fetch(url, {...init, signal: AbortSignal.timeout(10000)});
    return {status: response.status, body: await response.text()};
  } catch (error) {
    return {rejected: error.name};
  }
}
async function go(path, payload) {
  const headers = {"Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID()};
  if (window.TOKEN) headers.Authorization = `Bearer ${window.TOKEN}`;
  const init = {method: "POST", credentials: "include", headers, body: JSON.stringify(payload)};
  const result = await callApi(window.API + path, init);
  sessionStorage.setItem(path, JSON.stringify(result));
  if (result.status === 200) location.assign(JSON.parse(result.body).url);
  else document.getElementById("error").textContent = JSON.stringify(result);
}
function buy() {
  const origin = location.origin;
  go("/api/stripe/create-checkout", {
    priceId: "price_browser",
    successUrl: `${origin}/success?session_id={CHECKOUT_SESSION_ID}`,
    cancelUrl: `${origin}/pricing`,
    mode: "subscription",
  });
}
function billing() {
  go("/api/stripe/create-portal", {returnUrl: `${location.origin}/account`});
}
</script></head>
<body><h1>Frontend</h1>
<button type="button" onclick="buy()">Buy</button> <button type="button" onclick="billing()">Billing</button>
<p id="error"></p>
<form id="portal-form" method="post" enctype="text/plain"><button type="submit">Post form</button></form>
</body></html>
"""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = PAGE.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def page_server() -> Iterator[int]:
    """Serve PAGE at every path on 127.0.0.1 (so also as localhost) on a free port; yield the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class Service:
    """The service process under test, and its access log."""

    url: str
    port: int
    database: Path
    access_log: Path

    def seen(self, tag: str) -> list[tuple[str, str, str, str]]:
        """(method, path, status, origin) of every request the service answered under `?t=<tag>`."""
        requests.get(f"{self.url}/healthz?t={tag}-end", timeout=10)
        deadline = time.monotonic() + LOG_SECONDS
        while True:
            found = [_ACCESS_LINE.search(line) for line in self.access_log.read_text().splitlines()]
            lines = [match.groups() for match in found if match is not None]
            if any(query == f"t={tag}-end" for _, _, query, _, _ in lines):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the access log never showed the end of {tag}")
            time.sleep(0.05)
        return [
            (method, path, status, origin)
            for method, path, query, status, origin in lines
            if query == f"t={tag}"
        ]


def run_service(folder: Path, **settings: str) -> Iterator[Service]:
    """The service under hypercorn's own command line (one process, with an access log); always stopped."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database = folder / "p.sqlite3"
    access_log = folder / "access.log"
    stderr = folder / "stderr.log"
    command = [
        sys.executable,
        "-m",
        "hypercorn",
        "--workers",
        "0",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "handlers.app:create_app()",
    ]
    with stderr.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=service_env(port, database, **settings),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_until_up(Server("hypercorn", f"http://127.0.0.1:{port}", port, database, stderr), process)
            yield Service(f"http://127.0.0.1:{port}", port, database, access_log)
        finally:
            stop(process)
