"""Cold start at the edge: the edge entry and the fetch transport leave the stripe SDK unimported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
import handlers, handlers.app, handlers.edge, handlers.adapters.fetch_http
from tests.helpers.fakes import FakeProfiles

def fetch(method, url, headers, body, timeout):
    session = {"id": "cs_1", "object": "checkout.session", "url": "https://checkout.stripe.com/x"}
    return 200, {"content-type": "application/json"}, json.dumps(session).encode()

seen = ["stripe" in sys.modules]
environ = {"STRIPE_SECRET_KEY": "sk_test_x", "SUPABASE_JWT_SECRET": "s" * 32}
edge = handlers.app.create_edge(environ, fetch, profiles=FakeProfiles())
seen.append("stripe" in sys.modules)
status, _, _ = edge.handle("GET", "/healthz", {}, b"")
seen.append("stripe" in sys.modules)
body = {"priceId": "p", "successUrl": "https://a.example/s", "cancelUrl": "https://a.example/c",
        "mode": "payment"}
raw = json.dumps(body).encode()
status, _, _ = edge.handle("POST", "/api/stripe/create-checkout", {}, raw)
seen.append("stripe" in sys.modules)
print(status, *seen)
"""


def test_stripe_loads_only_with_the_first_payment() -> None:
    """Importing the edge modules, create_edge and a /healthz call leave stripe unloaded."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "False", "False", "False", "True"]


STORE_SCRIPT = """
import sys
from handlers.adapters.jwks_keys import JWKSKeys
from handlers.adapters.supabase_profiles import SupabaseProfiles
from handlers.app import create_edge
from handlers.ports import InvalidToken

sent = []

def fetch(method, url, headers, body, timeout):
    sent.append(url.split("/")[-1])
    return 200, {"content-type": "application/json"}, b'{"keys": []}' if "jwks" in url else b"[]"

seen = ["requests" in sys.modules]
edge = create_edge(
    {
        "STRIPE_SECRET_KEY": "sk_test_edge",
        "DATABASE_URL": "supabase",
        "SUPABASE_URL": "https://abcd.supabase.co",
        "SUPABASE_ANON_KEY": "anon",
        "SUPABASE_SERVICE_ROLE_KEY": "service",
        "SUPABASE_JWT_SECRET": "edge-jwt-secret-that-is-long-enough-for-hs256",
    },
    fetch,
)
keys = JWKSKeys("https://abcd.supabase.co", fetch=fetch)
seen.append("requests" in sys.modules)
status, _, _ = edge.handle("GET", "/healthz", {}, b"")
try:
    keys.key_for({"alg": "ES256", "kid": "k1"})
except InvalidToken:
    pass
seen.append("requests" in sys.modules)
SupabaseProfiles("https://abcd.supabase.co", "anon", "service")
seen.append("requests" in sys.modules)
print(status, *sent, *seen)
"""


def test_requests_loads_only_for_stores_built_without_a_fetch() -> None:
    """The edge's composition root and the JWKS keys given a fetch build and answer without requests."""
    done = subprocess.run(
        [sys.executable, "-c", STORE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "200",
        "profiles?select=id&limit=1",
        "jwks.json",
        "False",
        "False",
        "False",
        "True",
    ]


VALIDATION_SCRIPT = """
import asyncio, json, sys
from handlers.app import create_app, create_edge
from handlers.offline.payments import OfflinePayments
from tests.helpers.asgi_client import call
from tests.helpers.fakes import FakeProfiles

environ = {"SUPABASE_JWT_SECRET": "s" * 32}
payments = OfflinePayments("https://billing.example.com")
edge = create_edge(environ, payments=payments, profiles=FakeProfiles())
answers = [edge.handle("POST", "/api/stripe/create-checkout", {}, b'{"mode": "x"}')[0]]
app = create_app(environ, payments=payments, profiles=FakeProfiles())
answers.append(asyncio.run(call(app, "POST", "/api/stripe/create-portal", b"{}")).status)
body = {"priceId": "p", "successUrl": "https://a.example/s", "cancelUrl": "https://a.example/c",
        "mode": "payment"}
raw = json.dumps(body).encode()
answers.append(asyncio.run(call(app, "POST", "/api/stripe/create-checkout", raw)).status)
print(*answers, "jsonschema" in sys.modules)
"""


def test_requests_are_validated_without_jsonschema() -> None:
    """Bodies and answers are checked by validators compiled from the schema files, not by jsonschema."""
    done = subprocess.run(
        [sys.executable, "-c", VALIDATION_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["400", "401", "200", "False"]
