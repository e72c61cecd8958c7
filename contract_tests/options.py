"""The suite's options, each also read from its CONTRACT_* variable: one table for pytest and the command."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One command-line option and the environment variable that gives its default."""

    flag: str
    env: str
    help: str
    choices: tuple[str, ...] = ()
    default: str | None = None
    switch: bool = False

    @property
    def dest(self) -> str:
        """The attribute name argparse and pytest give it."""
        return self.flag.removeprefix("--").replace("-", "_")

    def arguments(self, environ: Mapping[str, str]) -> dict[str, Any]:
        """Keyword arguments for argparse's add_argument, which pytest's addoption takes too."""
        help_text = f"{self.help} [{self.env}]"
        if self.switch:
            return {
                "action": "store_true",
                "default": environ.get(self.env, "") not in ("", "0"),
                "help": help_text,
            }
        found: dict[str, Any] = {"default": environ.get(self.env, self.default), "help": help_text}
        if self.choices:
            found["choices"] = self.choices
        return found


OPTIONS = (
    Option(
        "--base-url",
        "CONTRACT_BASE_URL",
        "the deployment's origin, e.g. https://staging.example.com (in a checkout: start the service)",
    ),
    Option(
        "--supabase-url",
        "CONTRACT_SUPABASE_URL",
        "the deployment's SUPABASE_URL: token issuer and session cookie name",
    ),
    Option(
        "--jwt-secret",
        "CONTRACT_JWT_SECRET",
        "the deployment's HS256 SUPABASE_JWT_SECRET, to mint a new signed-in user per run",
    ),
    Option(
        "--no-billing-access-token",
        "CONTRACT_NO_BILLING_ACCESS_TOKEN",
        "access token of a signed-in user without a billing account",
    ),
    Option(
        "--access-token",
        "CONTRACT_ACCESS_TOKEN",
        "access token of a signed-in user who has a billing account",
    ),
    Option(
        "--price-id",
        "CONTRACT_PRICE_ID",
        "a test-mode Stripe price of the deployment, for the checkout 200 cases and the unknown-price 500",
    ),
    Option(
        "--price-mode",
        "CONTRACT_PRICE_MODE",
        "payment for a one-time price, subscription for a recurring one",
        choices=("payment", "subscription"),
        default="payment",
    ),
    Option(
        "--offline-stripe",
        "CONTRACT_OFFLINE_STRIPE",
        "the deployment uses the offline Stripe stand-in (accepts any price): skip the unknown-price 500",
        switch=True,
    ),
)
