"""End to end through real server processes (hypercorn via `python -m handlers`, uvicorn) and the emulator."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.ports import Profile
from tests.fakes import make_token

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from stripe_emulator import Recorded, StripeEmulator  # noqa: E402

STRIPE_KEY = "sk_test_serve0123456789abcdef"
JWT_SECRET = "serve-test-jwt-secret-that-is-long-enough-for-hs256"
SUPABASE_URL = "http://127.0.0.1:54321"
ISSUER = f"{SUPABASE_URL}/auth/v1"
READY_SECONDS = 20.0
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Server:
    """A running service process and where to reach it."""

    name: str
    url: str
    port: int
    database: Path
    stderr: Path


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(port: int, database: Path, **settings: str) -> dict[str, str]:
    """A clean environment for the service: only these settings, whatever the developer's shell has."""
    kept = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "TMPDIR")}
    return kept | {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SUPABASE_URL": SUPABASE_URL,
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": f"sqlite:///{database}",
        **settings,
    }


def command(name: str, port: int) -> list[str]:
    """How each host starts the service."""
    if name == "hypercorn":
        return [sys.executable, "-m", "handlers"]
    factory = ["-m", "uvicorn", "--factory", "handlers.app:create_app", "--no-access-log"]
    return [sys.executable, *factory, "--host", "127.0.0.1", "--port", str(port)]


def run_server(name: str, folder: Path, **settings: str) -> Iterator[Server]:
    """Start the service, wait (bounded) until /healthz answers 200, and always stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database = folder / "p.sqlite3"
    stderr = folder / "stderr.log"
    with stderr.open("wb") as log:
        process = subprocess.Popen(
            command(name, port),
            env=service_env(port, database, **settings),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            server = Server(name, f"http://127.0.0.1:{port}", port, database, stderr)
            wait_until_up(server, process)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_until_up(server: Server, process: subprocess.Popen[bytes]) -> None:
    """Return once GET /healthz answers 200; fail with the server's stderr if it exits or never does."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{server.name} exited with {process.returncode}:\n{server.stderr.read_text()}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    pytest.fail(
        f"{server.name} did not answer /healthz within {READY_SECONDS} s:\n{server.stderr.read_text()}"
    )


@pytest.fixture(name="emulator", scope="module")
def _emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture(name="server", scope="module", params=["hypercorn", "uvicorn"])
def _server(
    request: pytest.FixtureRequest, emulator: StripeEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    name: str = request.param
    yield from run_server(
        name,
        tmp_path_factory.mktemp(name),
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_API_BASE=emulator.url,
        STRIPE_MAX_RETRIES="0",
    )


@pytest.fixture(name="offline", scope="module")
def _offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from run_server("hypercorn", tmp_path_factory.mktemp("offline"))


def expect(response: requests.Response, status: int, body: Any) -> None:
    """Exactly this status and JSON body, served as application/json with a request id."""
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["content-type"] == "application/json"
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])


def post(server: Server, path: str, json: Any = None, **options: Any) -> requests.Response:
    """POST to the service with a bounded wait."""
    return requests.post(f"{server.url}{path}", json=json, timeout=10, **options)


def since(emulator: StripeEmulator, mark: int) -> list[Recorded]:
    """The emulator's requests after the first `mark`."""
    return emulator.requests[mark:]


def bearer(user_id: str, email: str = "ada@example.com") -> dict[str, str]:
    """An Authorization header for a signed-in user of the test project."""
    return {"Authorization": f"Bearer {make_token(JWT_SECRET, iss=ISSUER, sub=user_id, email=email)}"}


def checkout_body(price: str) -> dict[str, str]:
    """A valid create-checkout body for `price`, with Stripe's session id template in successUrl."""
    return {
        "priceId": price,
        "successUrl": "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}",
        "cancelUrl": "https://app.example.com/cancel",
        "mode": "payment",
    }


def test_checkout_answers_the_emulators_url_and_sends_exact_params(
    server: Server, emulator: StripeEmulator
) -> None:
    """An anonymous checkout reaches Stripe with exactly these params and answers the session's URL."""
    mark = len(emulator.requests)
    price = f"price_serve_{server.name}"

    response = post(server, "/api/stripe/create-checkout", checkout_body(price))

    sent = since(emulator, mark)
    assert [(r.method, r.path, r.status) for r in sent] == [("POST", "/v1/checkout/sessions", 200)]
    assert sent[0].params == {
        "mode": "payment",
        "line_items[0][price]": price,
        "line_items[0][quantity]": "1",
        "success_url": "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example.com/cancel",
        "allow_promotion_codes": "true",
        "customer_creation": "always",
    }
    assert sent[0].headers["authorization"] == f"Bearer {STRIPE_KEY}"
    assert re.fullmatch(r"checkout-[0-9a-f]{64}", sent[0].headers["idempotency-key"])
    assert sent[0].body is not None
    assert sent[0].body["url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    expect(response, 200, {"url": sent[0].body["url"]})


def test_signed_in_checkout_sends_the_user_and_their_customer(
    server: Server, emulator: StripeEmulator
) -> None:
    """A signed-in user with a stored customer checks out as that customer, with their id as reference."""
    SQLiteProfiles(server.database).put(Profile("user-checkout", "bo@example.com", "cus_serve_checkout"))
    mark = len(emulator.requests)
    price = f"price_serve_signed_in_{server.name}"

    response = post(
        server,
        "/api/stripe/create-checkout",
        checkout_body(price),
        headers=bearer("user-checkout", "bo@example.com"),
    )

    sent = since(emulator, mark)
    assert len(sent) == 1
    assert sent[0].params == {
        "mode": "payment",
        "line_items[0][price]": price,
        "line_items[0][quantity]": "1",
        "success_url": "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example.com/cancel",
        "allow_promotion_codes": "true",
        "client_reference_id": "user-checkout",
        "customer": "cus_serve_checkout",
    }
    assert sent[0].body is not None
    expect(response, 200, {"url": sent[0].body["url"]})


def test_unknown_price_answers_stripes_message(server: Server, emulator: StripeEmulator) -> None:
    """Stripe's 400 for an unknown price becomes a 500 carrying Stripe's own message."""
    mark = len(emulator.requests)

    response = post(server, "/api/stripe/create-checkout", checkout_body("price_missing_1"))

    expect(response, 500, {"error": "No such price: 'price_missing_1'"})
    assert [r.status for r in since(emulator, mark)] == [400]


def test_empty_checkout_body_answers_the_first_message(server: Server, emulator: StripeEmulator) -> None:
    """`{}` answers 400 with the first message in the documented order, and Stripe is not called."""
    mark = len(emulator.requests)

    response = post(server, "/api/stripe/create-checkout", {})

    expect(response, 400, {"error": "Price ID is required"})
    assert since(emulator, mark) == []


def test_portal_without_credentials_is_401(server: Server) -> None:
    """No credentials answers 401 with the documented message."""
    response = post(server, "/api/stripe/create-portal", {"returnUrl": "https://app.example.com/account"})

    expect(response, 401, {"error": "You must be logged in to view billing information."})


def test_portal_without_a_profile_is_400(server: Server, emulator: StripeEmulator) -> None:
    """A verified user with no profile has no billing account yet, and Stripe is not called."""
    mark = len(emulator.requests)

    response = post(
        server,
        "/api/stripe/create-portal",
        {"returnUrl": "https://app.example.com/account"},
        headers=bearer("user-without-profile"),
    )

    expect(response, 400, {"error": "You don't have a billing account yet. Make a purchase first."})
    assert since(emulator, mark) == []


def test_portal_with_a_customer_answers_the_emulators_url(server: Server, emulator: StripeEmulator) -> None:
    """A user whose profile holds a customer gets a portal session for exactly that customer."""
    SQLiteProfiles(server.database).put(Profile("user-portal", "ada@example.com", "cus_serve_portal"))
    mark = len(emulator.requests)

    response = post(
        server,
        "/api/stripe/create-portal",
        {"returnUrl": "https://app.example.com/account"},
        headers=bearer("user-portal"),
    )

    sent = since(emulator, mark)
    assert [(r.method, r.path, r.status) for r in sent] == [("POST", "/v1/billing_portal/sessions", 200)]
    assert sent[0].params == {"customer": "cus_serve_portal", "return_url": "https://app.example.com/account"}
    assert sent[0].body is not None
    assert sent[0].body["url"].startswith("https://billing.stripe.com/p/session/")
    expect(response, 200, {"url": sent[0].body["url"]})


def test_a_body_over_64_kib_is_413(server: Server) -> None:
    """A 70 KiB body answers 413 with the documented message."""
    response = requests.post(
        f"{server.url}/api/stripe/create-checkout",
        data=b"x" * (70 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )

    expect(response, 413, {"error": "Request body too large"})


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "allow"),
    [
        pytest.param("GET", "/nope", 404, {"error": "Not found"}, None, id="unknown-path-404"),
        pytest.param(
            "GET",
            "/api/stripe/create-checkout",
            405,
            {"error": "Method not allowed"},
            "POST",
            id="get-checkout-405",
        ),
        pytest.param("POST", "/healthz", 405, {"error": "Method not allowed"}, "GET", id="post-healthz-405"),
    ],
)
def test_unrouted_requests(
    server: Server, method: str, path: str, status: int, body: dict[str, str], allow: str | None
) -> None:
    """Unknown paths answer 404; known paths with the wrong method answer 405 with an Allow header."""
    response = requests.request(method, f"{server.url}{path}", timeout=10)

    expect(response, status, body)
    assert response.headers.get("allow") == allow


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        pytest.param("req-abc.123:x_y", True, id="valid-id-echoed"),
        pytest.param("has space", False, id="invalid-id-replaced"),
        pytest.param("x" * 129, False, id="too-long-id-replaced"),
    ],
)
def test_request_id_is_echoed_only_when_well_formed(server: Server, sent: str, echoed: bool) -> None:
    """A well-formed X-Request-Id comes back unchanged; anything else is replaced by a fresh 32-hex id."""
    response = requests.get(f"{server.url}/healthz", headers={"X-Request-Id": sent}, timeout=10)

    assert (response.status_code, response.json()) == (200, {"status": "ok", "profiles": "ok"})
    assert response.headers["content-type"] == "application/json"
    if echoed:
        assert response.headers["x-request-id"] == sent
    else:
        assert REQUEST_ID.fullmatch(response.headers["x-request-id"])


def test_offline_mode_warns_and_answers_local_urls(offline: Server) -> None:
    """Without STRIPE_SECRET_KEY the server warns OFFLINE on stderr and checkout answers a URL of its own."""
    response = post(offline, "/api/stripe/create-checkout", checkout_body("price_offline"))

    assert "WARNING handlers STRIPE_SECRET_KEY is not set: using the OFFLINE Stripe stand-in." in (
        offline.stderr.read_text()
    )
    url = response.json()["url"]
    expect(response, 200, {"url": url})
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:{offline.port}/offline/checkout/cs_offline_[0-9a-f]{{24}}", url
    )


def test_a_bad_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    """PORT=abc makes `python -m handlers` exit 1 with a message that names PORT."""
    env = service_env(8000, tmp_path / "p.sqlite3") | {"PORT": "abc"}

    done = subprocess.run(
        [sys.executable, "-m", "handlers"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=30
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "configuration error: PORT must be a number, got 'abc'"
