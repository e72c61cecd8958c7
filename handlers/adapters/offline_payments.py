"""An offline stand-in for Stripe, so the service runs on a fresh machine with no account.

It makes no payment: it remembers sessions in memory and answers with local URLs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any


class OfflinePayments:
    """Checkout and portal sessions that live in this process, with URLs under `base_url`."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._lock = threading.Lock()
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}

    def create_checkout_session(self, params: Mapping[str, Any], idempotency_key: str) -> str:
        """Remember the session; the same key returns the same session, as Stripe does."""
        session_id = "cs_offline_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        with self._lock:
            self.checkout_sessions.setdefault(session_id, {"id": session_id, **params})
        return f"{self._base_url}/offline/checkout/{session_id}"

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """Remember the portal session and return its local URL."""
        with self._lock:
            session_id = f"bps_offline_{len(self.portal_sessions) + 1}"
            self.portal_sessions[session_id] = {"customer": customer_id, "return_url": return_url}
        return f"{self._base_url}/offline/portal/{session_id}"
