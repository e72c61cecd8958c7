"""A fake of an edge runtime's `fetch`: answers queued JSON, as Stripe or PostgREST would; records calls."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Sent:
    """One request the fake received."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout: float

    def form(self) -> dict[str, str]:
        """The form-encoded body, decoded."""
        return dict(parse_qsl((self.body or b"").decode(), keep_blank_values=True))


class FakeFetch:
    """Answers queued (status, JSON body) pairs in order, or raises `fail` when it is set."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.sent: list[Sent] = []
        self.fail: Exception | None = None

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        self.sent.append(Sent(method, url, dict(headers), body, timeout))
        if self.fail is not None:
            raise self.fail
        status, payload = self.answers.pop(0)
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return status, {"Content-Type": "application/json", "Request-Id": "req_fake_1"}, raw


def stripe_error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    """A Stripe error body."""
    return {"error": {"type": kind, "message": message, **extra}}
