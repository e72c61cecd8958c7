"""The stand-in for Stripe: no payment is made; its sessions' URLs are our own pages, on the request's origin.

Like the test emulator, it knows no customer `cus_missing...` (as Stripe no longer knows a deleted one)
and opens no portal configuration `bpc_missing...` (as Stripe cannot open an unsaved one).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..ports import PortalNotConfigured, UnknownCustomer

if TYPE_CHECKING:
    from .sqlite_sessions import SQLiteSessions

log = logging.getLogger("handlers.offline")

CHECKOUT_PAGES = "/offline/checkout/"
PORTAL_PAGES = "/offline/portal/"
MISSING_CUSTOMER = "cus_missing"
UNSAVED_PORTAL = "bpc_missing"
# As long as Stripe keeps a Checkout Session open by default.
CHECKOUT_LIFETIME = 24 * 3600
# The origin of the request being answered, set around a handler's call by the composition root.
_ORIGIN: ContextVar[str | None] = ContextVar("offline_origin", default=None)


class MemorySessions:
    """Sessions in this process's memory (tests, the edge): lost on restart, unseen by other workers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.checkouts: dict[str, dict[str, Any]] = {}
        self.portals: dict[str, dict[str, Any]] = {}

    def add_checkout(self, session_id: str, session: dict[str, Any]) -> None:
        """Keep `session` under `session_id`, unless one is kept there already."""
        with self._lock:
            self.checkouts.setdefault(session_id, session)

    def checkout(self, session_id: str) -> dict[str, Any] | None:
        """A copy of the checkout session, or None."""
        with self._lock:
            session = self.checkouts.get(session_id)
            return dict(session) if session is not None else None

    def complete(self, session_id: str) -> None:
        """Mark the checkout session paid; an unknown id is ignored."""
        with self._lock:
            if session_id in self.checkouts:
                self.checkouts[session_id]["status"] = "complete"

    def add_portal(self, session: dict[str, Any]) -> str:
        """Keep a portal session; its id counts up from 1."""
        with self._lock:
            session_id = f"bps_offline_{len(self.portals) + 1}"
            self.portals[session_id] = session
        return session_id

    def portal(self, session_id: str) -> dict[str, Any] | None:
        """A copy of the portal session, or None."""
        with self._lock:
            session = self.portals.get(session_id)
            return dict(session) if session is not None else None


class OfflinePayments:
    """Checkout and portal sessions kept in `sessions`, with URLs on the request's origin or `base_url`."""

    def __init__(
        self,
        base_url: str = "http://localhost",
        portal_configuration: str | None = None,
        *,
        sessions: MemorySessions | SQLiteSessions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._portal_configuration = portal_configuration
        self.sessions = sessions if sessions is not None else MemorySessions()
        self._clock = clock

    @contextmanager
    def links_at(self, origin: str | None) -> Iterator[None]:
        """Build links on `origin` (scheme://host[:port]) within this block; on base_url when None."""
        token = _ORIGIN.set(origin)
        try:
            yield
        finally:
            _ORIGIN.reset(token)

    def create_checkout_session(self, params: Mapping[str, Any], idempotency_key: str | None) -> str:
        """Remember the session; the same key returns the same session, as Stripe does."""
        _check_customer(params.get("customer"))
        if idempotency_key:
            session_id = "cs_offline_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        else:
            session_id = "cs_offline_" + secrets.token_hex(12)
        expires_at = int(self._clock()) + CHECKOUT_LIFETIME
        self.sessions.add_checkout(session_id, {"id": session_id, **params, "expires_at": expires_at})
        return f"{self._origin()}{CHECKOUT_PAGES}{session_id}"

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
        session = {"customer": customer_id, "return_url": return_url, "configuration": configuration}
        return f"{self._origin()}{PORTAL_PAGES}{self.sessions.add_portal(session)}"

    def checkout_price(self, session_id: str) -> str | None:
        """The price the session was created with, as Stripe's line items would give it."""
        session = self.sessions.checkout(session_id)
        items = session.get("line_items") if session else None
        if not items:
            return None
        price = items[0].get("price")
        return str(price) if price else None

    def _origin(self) -> str:
        return _ORIGIN.get() or self._base_url


def _check_customer(customer: object) -> None:
    if isinstance(customer, str) and customer.startswith(MISSING_CUSTOMER):
        raise UnknownCustomer(f"No such customer: '{customer}'")


def completed_event(session: Mapping[str, Any], email: str | None, created: int) -> dict[str, Any]:
    """The `checkout.session.completed` event Stripe would send once this stand-in session is paid."""
    session_id: str = session["id"]
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
