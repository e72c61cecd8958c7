"""What every handler is given: the contract, the session reader, the ports and the settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .contract import Contract
from .ports import Payments, Profiles
from .session import SessionReader
from .settings import Settings


@dataclass(frozen=True, slots=True)
class Deps:
    """The handlers' dependencies, built once by `handlers.app`."""

    settings: Settings
    contract: Contract
    sessions: SessionReader
    payments: Payments
    profiles: Profiles
    clock: Callable[[], float] = field(default=time.time)
