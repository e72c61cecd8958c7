"""A Stripe customer that Stripe no longer knows (deleted, or from the other mode) is forgotten."""

from __future__ import annotations

import logging

from .deps import Deps
from .http import Request
from .ports import StoreError

log = logging.getLogger("handlers")


def forget_stale_customer(deps: Deps, request: Request, user_id: str, customer_id: str) -> None:
    """Clear `customer_id` from the user's profile; a store failure is logged, not the request's failure."""
    try:
        deps.profiles.forget_customer(user_id, customer_id)
    except StoreError as exc:
        # Harmless to leave: Stripe refuses it again next time, and a purchase's webhook replaces it.
        log.warning(
            "could not forget customer %s, unknown to Stripe: %s request_id=%s",
            customer_id,
            exc,
            request.request_id,
        )
        return
    log.info("forgot customer %s, unknown to Stripe request_id=%s", customer_id, request.request_id)
