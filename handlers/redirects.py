"""Redirect URLs the service hands to Stripe: optionally limited to the frontend's own origins."""

from __future__ import annotations

from collections.abc import Iterable

from .http import HTTPError
from .settings import origin_of


def check_origins(urls: Iterable[tuple[str, str]], allowed: tuple[str, ...]) -> None:
    """HTTPError 400 for the first (field, url) not on an allowed origin; all pass when none are set."""
    if not allowed:
        return
    for field_name, url in urls:
        if origin_of(url) not in allowed:
            raise HTTPError(400, f"{field_name} must be on an allowed origin")
