"""Messages shared by more than one handler, and the translation of port errors into HTTPError."""

from __future__ import annotations

from .http import HTTPError
from .ports import KeysUnavailable, PaymentsError, StoreError

INTERNAL = "Internal server error"
SESSION_UNVERIFIABLE = "Your session could not be verified right now. Please try again."
STORE_UNAVAILABLE = "Billing information is unavailable right now. Please try again."


def http_error(exc: PaymentsError | StoreError | KeysUnavailable) -> HTTPError:
    """The 500 a port error becomes; its message is always safe to show."""
    if isinstance(exc, PaymentsError):
        return HTTPError(500, exc.message)
    if isinstance(exc, KeysUnavailable):
        return HTTPError(500, SESSION_UNVERIFIABLE)
    return HTTPError(500, STORE_UNAVAILABLE)
