"""handlers.stale_customer: forgetting a customer id Stripe no longer knows, and what the log says."""

from __future__ import annotations

import logging

import pytest

from handlers.http import Request
from handlers.ports import Profile
from handlers.stale_customer import forget_stale_customer
from tests.helpers.fakes import FakeProfiles, make_deps

USER = "user-ada"
REQUEST = Request("POST", "/api/stripe/create-checkout", request_id="rid-7")


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    """The handlers' log records as (logger, level, message)."""
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records]


def test_the_customer_is_cleared_and_the_log_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """The profile loses the id; one INFO line names the customer and the request."""
    profiles = FakeProfiles(Profile(USER, customer_id="cus_gone"))
    caplog.set_level(logging.INFO, logger="handlers")

    forget_stale_customer(make_deps(profiles=profiles), REQUEST, USER, "cus_gone")

    assert profiles.rows[USER].customer_id is None
    assert logged(caplog) == [
        ("handlers", logging.INFO, "forgot customer cus_gone, unknown to Stripe request_id=rid-7")
    ]


def test_a_store_failure_is_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """The store's failure is logged with its text and the request; nothing is raised."""
    profiles = FakeProfiles(Profile(USER, customer_id="cus_gone"))
    profiles.down = True
    caplog.set_level(logging.INFO, logger="handlers")

    forget_stale_customer(make_deps(profiles=profiles), REQUEST, USER, "cus_gone")

    assert logged(caplog) == [
        (
            "handlers",
            logging.WARNING,
            "could not forget customer cus_gone, unknown to Stripe: store is down request_id=rid-7",
        )
    ]
