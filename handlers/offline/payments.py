"""The stand-in for Stripe: no payment is made; sessions live in memory, their URLs are our own pages.

Like the test emulator, it does not know customers `cus_missing...` (as Stripe no longer knows a deleted
one) and cannot open a portal configuration `bpc_missing...` (as Stripe cannot open an unsaved portal).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Mapping
from typing import Any

from ..ports import PortalNotConfigured, UnknownCustomer

log = logging.getLogger("handlers.offline")

CHECKOUT_PAGES = "/offline/checkout/"
PORTAL_PAGES = "/offline/portal/"
MISSING_CUSTOMER = "cus_missing"
UNSAVED_PORTAL = "bpc_missing"


class OfflinePayments:
    """Checkout and portal sessions that live in this process, with URLs under `base_url`."""

    def __init__(self, base_url: str, portal_configuration: str | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._portal_configuration = portal_configuration
        self._lock = threading.Lock()
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}

    def create_checkout_session(self, params: Mapping[str, Any], idempotency_key: str | None) -> str:
        """Remember the session; the same key returns the same session, as Stripe does."""
        _check_customer(params.get("customer"))
        key = idempotency_key or secrets.token_hex(16)
        session_id = "cs_offline_" + hashlib.sha256(key.encode()).hexdigest()[:24]
        with self._lock:
            self.checkout_sessions.setdefault(session_id, {"id": session_id, **params})
        return f"{self._base_url}{CHECKOUT_PAGES}{session_id}"

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """Remember the portal session and return its local URL."""
        _check_customer(customer_id)
        configuration = self._portal_configuration
        if configuration is not None and configuration.startswith(UNSAVED_PORTAL):
            log.warning(
                "offline: STRIPE_PORTAL_CONFIGURATION is %s..., a customer portal the stand-in cannot open,"
                " as Stripe cannot open one never saved in its dashboard: unset it for the offline portal",
                UNSAVED_PORTAL,
            )
            raise PortalNotConfigured()
        with self._lock:
            session_id = f"bps_offline_{len(self.portal_sessions) + 1}"
            self.portal_sessions[session_id] = {
                "customer": customer_id,
                "return_url": return_url,
                "configuration": configuration,
            }
        return f"{self._base_url}{PORTAL_PAGES}{session_id}"

    def checkout_price(self, session_id: str) -> str | None:
        """The price the session was created with, as Stripe's line items would give it."""
        session = self.checkout_session(session_id)
        items = session.get("line_items") if session else None
        if not items:
            return None
        price = items[0].get("price")
        return str(price) if price else None

    def checkout_session(self, session_id: str) -> dict[str, Any] | None:
        """A copy of a checkout session this stand-in created, or None."""
        with self._lock:
            session = self.checkout_sessions.get(session_id)
            return dict(session) if session is not None else None

    def portal_session(self, session_id: str) -> dict[str, Any] | None:
        """A copy of a portal session this stand-in created, or None."""
        with self._lock:
            session = self.portal_sessions.get(session_id)
            return dict(session) if session is not None else None

    def completed_event(self, session_id: str, email: str | None, created: int) -> dict[str, Any] | None:
        """The `checkout.session.completed` event Stripe would send once this session is paid."""
        session = self.checkout_session(session_id)
        if session is None:
            return None
        email = session.get("customer_email") or email or None
        reference = session.get("client_reference_id")
        # One customer per user (or email), as a returning Stripe customer would keep theirs.
        who = str(reference or email or session_id)
        customer = session.get("customer") or "cus_offline_" + hashlib.sha256(who.encode()).hexdigest()[:24]
        mode = session.get("mode")
        completed: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "client_reference_id": reference,
            "customer": customer,
            "customer_details": {"email": email},
            "customer_email": session.get("customer_email"),
            "mode": mode,
            "payment_status": "paid",
            "status": "complete",
            "subscription": None,
            "success_url": session.get("success_url"),
            "cancel_url": session.get("cancel_url"),
            "livemode": False,
        }
        if mode == "subscription":
            completed["subscription"] = "sub_offline_" + hashlib.sha256(session_id.encode()).hexdigest()[:24]
        return {
            "id": f"evt_offline_{secrets.token_hex(12)}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": created,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": completed},
        }

    def mark_complete(self, session_id: str) -> None:
        """Remember that the session was paid, so paying again sends nothing."""
        with self._lock:
            if session_id in self.checkout_sessions:
                self.checkout_sessions[session_id]["status"] = "complete"


def _check_customer(customer: object) -> None:
    if isinstance(customer, str) and customer.startswith(MISSING_CUSTOMER):
        raise UnknownCustomer(f"No such customer: '{customer}'")
