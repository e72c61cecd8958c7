"""End to end through real server processes (hypercorn via `python -m handlers`, uvicorn) and the emulator."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.ports import Profile
from tests.helpers.servers import (
    REQUEST_ID,
    ROOT,
    STRIPE_KEY,
    Server,
    StripeEmulator,
    bearer,
    checkout_body,
    expect,
    post,
    run_server,
    service_env,
    since,
)


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

    assert "WARNING handlers [-] stripe: OFFLINE stand-in (STRIPE_SECRET_KEY is not set)" in (
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
