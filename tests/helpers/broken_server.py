"""A deliberately wrong deployment: a proxy to the real service that breaks one thing on purpose."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

# Each way the proxy can break the contract, applied to the answers it matches.
BREAKS = ("none", "wrong-message", "wrong-status", "no-content-type")
SKIPPED_HEADERS = {"content-length", "transfer-encoding", "connection", "date", "server"}


def broken(
    mode: str, path: str, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """The answer as `mode` breaks it; others pass through unchanged."""
    text = body.decode("utf-8", "replace")
    if mode == "wrong-message" and '"Price ID is required"' in text:
        return status, headers, json.dumps({"error": "Price is required"}).encode()
    if mode == "wrong-status" and '"Return URL is required"' in text:
        return 422, headers, body
    if mode == "no-content-type" and path == "/healthz":
        return status, {k: v for k, v in headers.items() if k.lower() != "content-type"}, body
    return status, headers, body


@contextmanager
def proxy(upstream: str, mode: str) -> Iterator[str]:
    """Serve on a free local port, forwarding to `upstream` and breaking answers as `mode` says."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                data = self._read_chunked()
            else:
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
            sent = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "transfer-encoding")}
            if data:
                sent["Content-Length"] = str(len(data))
            answer = requests.request(
                self.command, upstream + self.path, data=data, headers=sent, timeout=30, allow_redirects=False
            )
            headers = {k: v for k, v in answer.headers.items() if k.lower() not in SKIPPED_HEADERS}
            status, headers, body = broken(mode, self.path, answer.status_code, headers, answer.content)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def _read_chunked(self) -> bytes:
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads the suite's output, not the proxy's."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
