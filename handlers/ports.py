"""The ports handlers call for I/O, with their value types and errors; adapters implement them
structurally, and only `handlers.app` knows which stands behind each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in user, as the verified access token names them."""

    id: str
    email: str | None = None
    # Stores that read as the user (Supabase REST under row level security) need the token itself.
    access_token: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Profile:
    """A row of the `profiles` table."""

    id: str
    email: str | None = None
    customer_id: str | None = None
    price_id: str | None = None
    has_access: bool = False


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """One Stripe event's effect on one profile; a store applies each event id at most once.

    The profile is found by `user_id` (created when missing), else by `customer_id`, else by `email`.
    Where profiles belong to auth users (a Supabase database), only a user that still exists gets one:
    a deleted user's id is passed over for the customer and email.
    A profile found by `email` that already has a different `customer_id` is left alone: "unmatched".
    `customer_id`, `price_id` and `has_access` are set when not None; `email` only fills an empty one.
    An event whose `created` is older than the last event applied to that profile changes nothing.
    """

    event_id: str
    created: int
    user_id: str | None = None
    customer_id: str | None = None
    email: str | None = None
    price_id: str | None = None
    has_access: bool | None = None


Outcome = Literal["applied", "duplicate", "stale", "unmatched"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A key that verifies tokens signed with exactly one algorithm."""

    key: Any
    algorithm: str


class PortError(Exception):
    """Root of the errors an adapter raises."""


class PaymentsError(PortError):
    """The payment provider failed; `message` is safe to show to the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownCustomer(PaymentsError):
    """Stripe does not know the customer it was sent: deleted, or from the other mode (test or live)."""


class PortalNotConfigured(PaymentsError):
    """Stripe has no customer portal configuration to open: only the operator can fix that."""

    def __init__(self) -> None:
        super().__init__("The billing portal is not available yet. Please contact support.")


class StoreError(PortError):
    """The profile store could not be reached or failed."""


class InvalidToken(PortError):
    """The token's header names no key this source can verify it with."""


class KeysUnavailable(PortError):
    """The signing keys could not be fetched, so no token can be verified now."""


class Payments(Protocol):
    """Creates hosted Stripe sessions; params are Stripe's own, as a plain dict."""

    def create_checkout_session(self, params: Mapping[str, Any], idempotency_key: str | None) -> str:
        """Create a Checkout Session and return its URL (the same session for a repeated key); raise
        UnknownCustomer when Stripe does not know `params["customer"]`."""

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """Create a Billing Portal session and return its URL; raise UnknownCustomer when Stripe does not know
        `customer_id`, PortalNotConfigured when the account has no portal configuration to open."""

    def checkout_price(self, session_id: str) -> str | None:
        """The price of a Checkout Session's first line item, or None when it has none."""


class Profiles(Protocol):
    """Reads user profiles, and applies Stripe events to them."""

    def get(self, user_id: str, access_token: str | None = None) -> Profile | None:
        """The profile of `user_id`, or None; stores that read as the user use `access_token`."""

    def apply(self, update: ProfileUpdate) -> Outcome:
        """Apply `update` and record its event id in one transaction; raise StoreError on failure."""

    def forget_customer(self, user_id: str, customer_id: str) -> None:
        """Clear the profile's customer if it is still `customer_id`; a newer one is left alone."""

    def ping(self) -> None:
        """Raise StoreError unless the store answers."""


class SigningKeys(Protocol):
    """Finds the key that verifies a token, given the token's unverified header."""

    def key_for(self, header: Mapping[str, Any]) -> VerificationKey:
        """Raise InvalidToken when no key fits, KeysUnavailable when keys cannot be had."""
