"""The npm package the frontend installs: `npm pack`, installed offline into a scratch project and used."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from contract_tests.deployment import ROOT

PACKAGE = ROOT / "packages" / "billing-contract"
NAME = "@billing-handlers/contract"
MODE_REQUIRED = (
    "Mode is required (either 'payment' for one-time payments or 'subscription' for recurring subscription)"
)
# Each body and the service's documented 400 message for it (null: valid), as the README lists them.
BODIES = [
    ("create-checkout.request.json", {}, "Price ID is required"),
    ("create-checkout.request.json", {"priceId": "price_1"}, "Success and cancel URLs are required"),
    (
        "create-checkout.request.json",
        {"priceId": "price_1", "successUrl": "https://a.example/", "cancelUrl": "https://a.example/"},
        MODE_REQUIRED,
    ),
    (
        "create-checkout.request.json",
        {
            "priceId": "price_1",
            "successUrl": "https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}",
            "cancelUrl": "https://app.example.com/pricing",
            "mode": "subscription",
        },
        None,
    ),
    ("create-portal.request.json", {}, "Return URL is required"),
    ("create-portal.request.json", [], "Request body must be a JSON object"),
]
CONSUMER = """
import { checkoutRequestError } from "@billing-handlers/contract";
import type { CreateCheckoutRequest, SchemaName } from "@billing-handlers/contract";

const body: CreateCheckoutRequest = {
  priceId: "price_1",
  successUrl: "https://app.example.com/done",
  cancelUrl: "https://app.example.com/pricing",
  mode: "payment",
};
export const message: string | null = checkoutRequestError(body);
export const name: SchemaName = "error.json";
// @ts-expect-error priceId is required
export const withoutPrice: CreateCheckoutRequest = { successUrl: "a", cancelUrl: "b", mode: "payment" };
"""


def run(command: list[str], cwd: Path) -> str:
    """Run `command`, fail with its output unless it exits 0; return its stdout."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(name="tarball", scope="module")
def _tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run(["scripts/npm-ci", "packages/billing-contract"], ROOT)
    folder = tmp_path_factory.mktemp("pack")
    packed = json.loads(run(["npm", "pack", "--json", "--pack-destination", str(folder)], PACKAGE))
    return folder / str(packed[0]["filename"])


@pytest.fixture(name="scratch", scope="module")
def _scratch(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project with only the tarball installed, its dependencies from the npm cache."""
    folder = tmp_path_factory.mktemp("scratch")
    (folder / "package.json").write_text(json.dumps({"name": "scratch", "private": True, "type": "module"}))
    run(["npm", "install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", str(tarball)], folder)
    return folder


def test_the_tarball_holds_the_schemas_types_and_validator(tarball: Path) -> None:
    """Every schema file, the generated types and the validator; no examples, no build tooling."""
    with tarfile.open(tarball) as archive:
        names = {name.removeprefix("package/") for name in archive.getnames()}
    schema_files = {f"dist/schemas/{path.name}" for path in (ROOT / "schemas").glob("*.json")}
    wanted = {"package.json", "README.md", "index.js", "index.d.ts", "openapi.d.ts", "dist/schemas.js"}
    assert names == wanted | schema_files


def test_the_installed_validator_gives_the_documented_messages(scratch: Path) -> None:
    """Installed from the tarball, firstError answers each body with the service's documented message."""
    script = (
        f"import {{ firstError }} from {json.dumps(NAME)};\n"
        f"const bodies = {json.dumps([[schema, body] for schema, body, _ in BODIES])};\n"
        "console.log(JSON.stringify(bodies.map(([schema, body]) => firstError(schema, body))));\n"
    )
    (scratch / "validate.mjs").write_text(script)

    messages = json.loads(run(["node", "validate.mjs"], scratch))

    assert messages == [message for _, _, message in BODIES]


def test_the_installed_types_compile_a_consumer_and_refuse_a_body_without_price(scratch: Path) -> None:
    """tsc --strict in the scratch project: the types resolve, and a body without priceId is an error."""
    (scratch / "consumer.ts").write_text(CONSUMER)
    tsc = PACKAGE / "node_modules" / ".bin" / "tsc"
    options = [
        "--strict",
        "--noEmit",
        "--target",
        "ES2022",
        "--module",
        "NodeNext",
        "--moduleResolution",
        "NodeNext",
    ]

    run([str(tsc), *options, "consumer.ts"], scratch)
