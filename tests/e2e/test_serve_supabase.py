"""End to end through a real server process: profiles in PostgreSQL, sessions signed with JWKS keys."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.helpers.jwks import SigningKey, es256, jwks, rs256
from tests.helpers.servers import Server, run_server

CUSTOMER_USER = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11"
NEW_USER = "1f6a3c8e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
ES = es256()
RS = rs256()
RETURN = {"returnUrl": "https://app.example.com/account"}
NOT_SIGNED_IN = {"error": "You must be logged in to view billing information."}
NO_ACCOUNT = {"error": "You don't have a billing account yet. Make a purchase first."}
UNVERIFIABLE = {"error": "Your session could not be verified right now. Please try again."}


class FakeAuth:
    """A local stand-in for the project's Auth server: serves the JWKS, or hangs when told to."""

    def __init__(self, document: dict[str, Any], hang_seconds: float = 0.0) -> None:
        body = json.dumps(document).encode()
        self.requests = 0
        auth = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth.requests += 1
                if hang_seconds:
                    time.sleep(hang_seconds)
                self.send_response(200 if self.path == "/auth/v1/.well-known/jwks.json" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def b64(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def token(key: SigningKey, issuer_url: str, **claims: Any) -> str:
    """An access token for the fake project at `issuer_url`, signed with `key`."""
    return key.token(iss=f"{issuer_url}/auth/v1", **claims)


def portal(server: Server, bearer: str) -> requests.Response:
    """POST create-portal with a Bearer token."""
    return requests.post(
        f"{server.url}/api/stripe/create-portal",
        json=RETURN,
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=10,
    )


@pytest.fixture(name="auth", scope="module")
def _auth() -> Iterator[FakeAuth]:
    auth = FakeAuth(jwks(ES, RS))
    yield auth
    auth.close()


@pytest.fixture(name="server", scope="module")
def _server(auth: FakeAuth, postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service on PostgreSQL and the fake Auth server's JWKS; one user has a Stripe customer."""
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("TRUNCATE public.profiles, public.stripe_events")
        db.execute(
            "INSERT INTO public.profiles (id, customer_id) VALUES (%s, 'cus_in_postgres')", (CUSTOMER_USER,)
        )
        db.execute("INSERT INTO public.profiles (id, email) VALUES (%s, 'new@example.com')", (NEW_USER,))
    folder: Path = tmp_path_factory.mktemp("serve-postgres")
    yield from run_server(
        "hypercorn",
        folder,
        DATABASE_URL=postgres_url,
        SUPABASE_URL=auth.url,
        SUPABASE_TIMEOUT="1",
    )


@pytest.mark.parametrize("key", [ES, RS], ids=["ES256", "RS256"])
def test_portal_for_a_customer_in_postgres_is_200(server: Server, auth: FakeAuth, key: SigningKey) -> None:
    """An ES256 or RS256 session of a user whose customer is in PostgreSQL opens the portal."""
    response = portal(server, token(key, auth.url, sub=CUSTOMER_USER))
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith(f"{server.url}/offline/portal/bps_offline_")


def test_portal_for_a_user_without_a_customer_is_400(server: Server, auth: FakeAuth) -> None:
    """A verified user whose PostgreSQL profile has no customer gets the documented 400."""
    response = portal(server, token(ES, auth.url, sub=NEW_USER))
    assert (response.status_code, response.json()) == (400, NO_ACCOUNT)


def test_portal_for_a_user_without_a_profile_is_400(server: Server, auth: FakeAuth) -> None:
    """A verified user with no profile row at all gets the same 400."""
    response = portal(server, token(RS, auth.url, sub="00000000-0000-4000-8000-00000000abcd"))
    assert (response.status_code, response.json()) == (400, NO_ACCOUNT)


def test_a_token_from_another_key_is_401(server: Server, auth: FakeAuth) -> None:
    """A token signed by a key that is not the published one, under its kid, is refused."""
    response = portal(server, token(es256(ES.kid), auth.url, sub=CUSTOMER_USER))
    assert (response.status_code, response.json()) == (401, NOT_SIGNED_IN)


def test_an_hs256_token_with_an_rs256_kid_is_401(server: Server, auth: FakeAuth) -> None:
    """An HS256 token naming the RSA key, signed with its public JWK as the secret, is refused."""
    claims = json.loads(base64.urlsafe_b64decode(token(RS, auth.url).split(".")[1] + "=="))
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'kid': RS.kid}).encode())}.{b64(json.dumps(claims).encode())}"
    )
    signature = hmac.new(json.dumps(RS.jwk()).encode(), signing_input.encode(), hashlib.sha256).digest()
    response = portal(server, f"{signing_input}.{b64(signature)}")
    assert (response.status_code, response.json()) == (401, NOT_SIGNED_IN)


def test_a_jwks_timeout_is_a_500_and_is_not_waited_for_again(tmp_path: Path, postgres_url: str) -> None:
    """With the JWKS endpoint hanging, create-portal answers 500 "could not be verified"; the next request
    answers the same without asking the hanging endpoint again."""
    hanging = FakeAuth(jwks(ES), hang_seconds=30)
    try:
        serving = contextlib.contextmanager(run_server)
        with serving(
            "hypercorn", tmp_path, DATABASE_URL=postgres_url, SUPABASE_URL=hanging.url, SUPABASE_TIMEOUT="1"
        ) as server:
            # The keys would come after 30 s and sign the user in: a 500 is SUPABASE_TIMEOUT ending the wait.
            response = portal(server, token(ES, hanging.url, sub=CUSTOMER_USER))
            assert (response.status_code, response.json()) == (500, UNVERIFIABLE)
            assert response.headers["content-type"] == "application/json"
            again = portal(server, token(ES, hanging.url, sub=CUSTOMER_USER))
            assert (again.status_code, again.json()) == (500, UNVERIFIABLE)
            assert hanging.requests == 1
    finally:
        hanging.close()
