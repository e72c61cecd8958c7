"""The offline stand-in's checkout and portal pages, in-process: pay -> signed event -> webhook -> profile."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.asgi import App
from handlers.checkout import checkout_params
from handlers.http import Request, Response
from handlers.offline import pages
from handlers.offline.payments import OfflinePayments
from handlers.ports import Profile, User
from handlers.router import Router
from handlers.settings import Settings
from tests.helpers.asgi_client import Result, call
from tests.helpers.fakes import FakePayments, make_router
from tests.helpers.stripe_events import WEBHOOK_SECRET

BASE = "http://127.0.0.1:8000"
SUCCESS = "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "https://app.example.com/pricing"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Clock:
    """A settable clock, real time by default."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> SQLiteProfiles:
    store = SQLiteProfiles(tmp_path / "profiles.sqlite3")
    store.create()
    return store


@pytest.fixture(name="stand_in")
def _stand_in() -> OfflinePayments:
    return OfflinePayments(BASE)


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


SETTINGS = Settings(stripe_webhook_secret=WEBHOOK_SECRET)


@pytest.fixture(name="app")
def _app(store: SQLiteProfiles, stand_in: OfflinePayments, clock: Clock) -> Iterator[App]:
    app = App(make_router(profiles=store, settings=SETTINGS, stand_in=stand_in, clock=clock), threads=2)
    yield app
    app.executor.shutdown()


def open_checkout(stand_in: OfflinePayments, user: User | None, mode: str = "subscription") -> str:
    """Create a session as create-checkout would, and return its local path."""
    body = {"priceId": "price_pro", "successUrl": SUCCESS, "cancelUrl": CANCEL, "mode": mode}
    url = stand_in.create_checkout_session(checkout_params(body, user, None), f"key-{mode}-{user}")
    return url.removeprefix(BASE)


def request(app: App, method: str, path: str, body: bytes = b"") -> Result:
    return asyncio.run(call(app, method, path, body, FORM if body else None))


def test_checkout_page_shows_the_session_and_a_pay_button(app: App, stand_in: OfflinePayments) -> None:
    """GET answers a styled, mobile-friendly HTML page marked offline, with the price, the email and Pay."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))

    result = request(app, "GET", path)

    assert result.status == 200
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert result.headers["content-length"] == str(len(result.body))
    page = result.body.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<style>" in page and "@media" in page
    assert '<p class="banner" role="note">Offline test checkout: no real payment is made</p>' in page
    assert "<dt>Price</dt><dd>price_pro</dd>" in page
    assert "<dt>Billing</dt><dd>Subscription</dd>" in page
    assert '<form method="post">' in page
    assert (
        '<input id="email" type="email" name="email" autocomplete="email" value="ada@example.com" readonly>'
        in page
    )
    assert '<button type="submit">Pay</button>' in page
    assert f'<a href="{CANCEL}">Cancel</a>' in page


def test_a_signed_out_checkout_asks_for_an_email(app: App, stand_in: OfflinePayments) -> None:
    """Signed out, the email field is empty and required, and the page says the email links the purchase."""
    page = request(app, "GET", open_checkout(stand_in, None, "payment")).body.decode()

    assert '<input id="email" type="email" name="email" autocomplete="email" value="" required>' in page
    assert "<dt>Billing</dt><dd>One-time payment</dd>" in page


@pytest.mark.parametrize("email", ["", "   ", "not-an-email"])
def test_a_signed_out_payment_needs_an_email(
    app: App, stand_in: OfflinePayments, store: SQLiteProfiles, email: str
) -> None:
    """Signed out without a usable email: 400 with the form again and the reason; nothing is paid."""
    path = open_checkout(stand_in, None, "payment")

    result = request(app, "POST", path, urlencode({"email": email}).encode())

    assert result.status == 400
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    page = result.body.decode()
    assert '<p class="error" role="alert">Enter your email address to pay.</p>' in page
    assert '<button type="submit">Pay</button>' in page
    session = stand_in.sessions.checkout(path.rsplit("/", 1)[1])
    assert session is not None and session.get("status") != "complete"


def test_an_expired_checkout_shows_a_page(app: App, stand_in: OfflinePayments, clock: Clock) -> None:
    """A day after it was made, the link answers 410 with an HTML page linking back; Pay is refused too."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    clock.now = time.time() + 25 * 3600

    shown = request(app, "GET", path)
    paid = request(app, "POST", path)

    assert (shown.status, paid.status) == (410, 410)
    assert shown.headers["content-type"] == "text/html; charset=utf-8"
    page = shown.body.decode()
    assert "<h1>This checkout has expired</h1>" in page
    assert f'<a href="{CANCEL}">Go back</a>' in page


def test_paying_delivers_a_signed_event_and_redirects(
    app: App, stand_in: OfflinePayments, store: SQLiteProfiles
) -> None:
    """POST sends checkout.session.completed through the webhook, links the customer, and 303s to success."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    session_id = path.rsplit("/", 1)[1]

    result = request(app, "POST", path, b"")

    assert (result.status, result.body) == (303, b"")
    assert result.headers["location"] == f"https://app.example.com/ok?session_id={session_id}"
    profile = store.get("user-1")
    assert profile is not None
    assert re.fullmatch(r"cus_offline_[0-9a-f]{24}", profile.customer_id or "")
    assert profile == Profile("user-1", "ada@example.com", profile.customer_id, "price_pro", True)


def test_the_same_user_keeps_one_offline_customer(
    app: App, stand_in: OfflinePayments, store: SQLiteProfiles
) -> None:
    """A second purchase by the same user names the same customer."""
    request(app, "POST", open_checkout(stand_in, User("user-1", "ada@example.com"), "payment"))
    first = store.get("user-1")
    request(app, "POST", open_checkout(stand_in, User("user-1", "ada@example.com"), "subscription"))

    assert first is not None and store.get("user-1") == first


def test_anonymous_checkout_links_by_the_email_typed_in(
    app: App, stand_in: OfflinePayments, store: SQLiteProfiles
) -> None:
    """Signed out, the email posted in the form finds the profile, as Stripe's customer email would."""
    store.put(Profile("user-2", "bo@example.com"))
    path = open_checkout(stand_in, None, "payment")

    result = request(app, "POST", path, urlencode({"email": "bo@example.com"}).encode())

    assert result.status == 303
    profile = store.get("user-2")
    assert profile is not None and profile.has_access and profile.price_id == "price_pro"


def test_paying_twice_sends_one_event(app: App, stand_in: OfflinePayments, store: SQLiteProfiles) -> None:
    """A second POST only redirects; the GET page then says it is paid."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    request(app, "POST", path)
    store.put(Profile("user-1", "ada@example.com", "cus_changed", "price_x", False))

    again = request(app, "POST", path)

    assert again.status == 303
    assert store.get("user-1") == Profile("user-1", "ada@example.com", "cus_changed", "price_x", False)
    assert "This checkout is paid." in request(app, "GET", path).body.decode()


def test_the_event_goes_through_signature_verification(
    app: App, stand_in: OfflinePayments, store: SQLiteProfiles, clock: Clock
) -> None:
    """Signed with a timestamp Stripe's check refuses: the webhook's 400 becomes 502 and nothing is paid."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    clock.now = time.time() - 3600

    result = request(app, "POST", path)

    assert (result.status, result.json()) == (
        502,
        {"error": "The webhook answered 400: Invalid Stripe signature"},
    )
    assert result.headers["content-type"] == "application/json"
    assert store.get("user-1") is None
    clock.now = time.time()
    assert request(app, "POST", path).status == 303
    assert store.get("user-1") is not None


def test_the_delivered_event_has_stripes_shape(store: SQLiteProfiles, stand_in: OfflinePayments) -> None:
    """The event is a v1 snapshot event with the session's id, reference, email, mode and subscription."""
    router: Router = make_router(FakePayments(), store, SETTINGS, now=time.time())
    seen: list[tuple[str, str | None, bytes]] = []

    def spy(request: Request) -> Response:
        seen.append((request.path, request.header("stripe-signature"), request.body))
        return router.dispatch(request)

    for prefix, methods in pages.routes(stand_in, spy).items():
        router.add_prefix(prefix, methods)
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    request(App(router, threads=1), "POST", path)

    [(webhook_path, header, body)] = seen
    assert webhook_path == "/api/webhook/stripe"
    assert header is not None and re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    event = json.loads(body)
    assert re.fullmatch(r"evt_offline_[0-9a-f]{24}", event["id"])
    obj = event["data"]["object"]
    assert (event["object"], event["type"], event["livemode"]) == (
        "event",
        "checkout.session.completed",
        False,
    )
    assert {
        k: obj[k] for k in ("id", "object", "client_reference_id", "mode", "payment_status", "status")
    } == {
        "id": path.rsplit("/", 1)[1],
        "object": "checkout.session",
        "client_reference_id": "user-1",
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
    }
    assert obj["customer_details"] == {"email": "ada@example.com"}
    assert re.fullmatch(r"sub_offline_[0-9a-f]{24}", obj["subscription"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/offline/checkout/cs_offline_unknown", id="unknown-checkout"),
        pytest.param("POST", "/offline/checkout/cs_offline_unknown", id="pay-unknown"),
        pytest.param("GET", "/offline/portal/bps_offline_9", id="unknown-portal"),
    ],
)
def test_unknown_sessions_show_an_html_page(app: App, method: str, path: str) -> None:
    """An unknown checkout or portal link answers 404 with a page a person can read, not raw JSON."""
    result = request(app, method, path)

    assert result.status == 404
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    page = result.body.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<h1>This link is not valid</h1>" in page
    assert '{"error"' not in page


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/offline/checkout/", id="no-id"),
        pytest.param("/offline/checkout/a/b", id="two-segments"),
        pytest.param("/offline/checkout", id="bare-prefix"),
    ],
)
def test_malformed_offline_paths_are_404_json(app: App, path: str) -> None:
    """Paths no page serves answer the router's JSON 404."""
    result = request(app, "GET", path)

    assert (result.status, result.json()) == (404, {"error": "Not found"})


def test_pages_are_404_with_real_stripe(stand_in: OfflinePayments) -> None:
    """With real Stripe behind the service the offline pages do not exist."""
    path = open_checkout(stand_in, None)
    app = App(make_router(FakePayments(), settings=SETTINGS), threads=1)

    result = request(app, "GET", path)

    assert (result.status, result.json()) == (404, {"error": "Not found"})


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        pytest.param("POST", "/offline/portal/bps_offline_1", "GET", id="portal-is-get-only"),
        # The checkout page answers GET and POST: a 405 lists both, as HTTP writes a list.
        pytest.param("PUT", "/offline/checkout/cs_offline_1", "GET, POST", id="checkout-allows-both"),
    ],
)
def test_a_wrong_method_on_a_page_is_405_with_allow(app: App, method: str, path: str, allow: str) -> None:
    """A method a page does not answer: 405 and the methods it does answer."""
    result = request(app, method, path)

    assert (result.status, result.json(), result.headers["allow"]) == (
        405,
        {"error": "Method not allowed"},
        allow,
    )


def test_portal_page_links_back(app: App, stand_in: OfflinePayments) -> None:
    """The portal page is marked offline, names the customer and links to return_url, HTML-escaped."""
    url = stand_in.create_portal_session("cus_offline_1", "https://app.example.com/account?a=1&b=<2>")

    result = request(app, "GET", url.removeprefix(BASE))

    assert result.status == 200
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    page = result.body.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<p class="banner" role="note">Offline test billing portal: there is nothing to manage</p>' in page
    assert "<h1>Offline billing portal</h1>" in page
    assert "<p>Customer: cus_offline_1</p>" in page
    assert '<a href="https://app.example.com/account?a=1&amp;b=&lt;2&gt;">Return</a>' in page


def test_a_refused_event_is_logged_with_its_status_and_id(
    app: App, stand_in: OfflinePayments, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the webhook's status and the event, so the refusal can be found."""
    clock.now = time.time() - 3600
    request(app, "POST", open_checkout(stand_in, User("user-1", "ada@example.com")))
    (record,) = [r for r in caplog.records if r.name == "handlers.offline"]
    assert record.levelname == "WARNING"
    assert re.fullmatch(
        r"offline checkout: the webhook answered 400 event=evt_offline_[0-9a-f]{24}", record.getMessage()
    )


CHECKOUT_BANNER = "Offline test checkout: no real payment is made"
NO_CARD = (
    '<p class="muted">No card is needed: Pay sends this service\'s webhook a signed'
    " checkout.session.completed, as Stripe would.</p>"
)
HINT = '<p class="muted">The email links this purchase to the account that has it.</p>'


def shown(title: str, banner: str, main: str) -> str:
    """A whole stand-in page as a browser receives it: the banner above the card holding `main`."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{pages.STYLE}</style></head>"
        f'<body><p class="banner" role="note">{banner}</p><main>{main}</main></body></html>'
    )


def checkout_form(price: str, billing: str, email_input: str, after_input: str, cancel: str = CANCEL) -> str:
    """The checkout card: what is bought, the email field, Pay, and Cancel."""
    return (
        "<h1>Offline checkout</h1>"
        f"<dl><dt>Price</dt><dd>{price}</dd><dt>Billing</dt><dd>{billing}</dd>"
        "<dt>Quantity</dt><dd>1</dd></dl>"
        '<form method="post"><label for="email">Email</label>'
        f'<input id="email" type="email" name="email" autocomplete="email" {email_input}>'
        f'{after_input}{NO_CARD}<button type="submit">Pay</button></form>'
        f'<p class="muted"><a href="{cancel}">Cancel</a> and go back</p>'
    )


def assert_page(result: Result, status: int, html: str) -> None:
    """Exactly this status and HTML page, never cached."""
    assert result.status == status
    assert sorted(result.pairs) == [
        ("cache-control", "no-store"),
        ("content-length", str(len(result.body))),
        ("content-type", "text/html; charset=utf-8"),
        ("x-request-id", result.headers["x-request-id"]),
    ]
    assert result.body.decode() == html


def add_session(stand_in: OfflinePayments, **session: object) -> str:
    """Keep a checkout session as given (one an earlier version made, say) and return its page's path."""
    stand_in.sessions.add_checkout("cs_offline_given", {"id": "cs_offline_given", **session})
    return "/offline/checkout/cs_offline_given"


def test_the_signed_in_checkout_page_exactly(app: App, stand_in: OfflinePayments) -> None:
    """Signed in: the account's email, read-only, and no hint; the page is the whole of what is shown."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))

    assert_page(
        request(app, "GET", path),
        200,
        shown(
            "Offline checkout",
            CHECKOUT_BANNER,
            checkout_form("price_pro", "Subscription", 'value="ada@example.com" readonly', ""),
        ),
    )


def test_the_signed_out_checkout_page_exactly(app: App, stand_in: OfflinePayments) -> None:
    """Signed out: an empty required email field and the hint saying why it is asked."""
    path = open_checkout(stand_in, None, "payment")

    assert_page(
        request(app, "GET", path),
        200,
        shown(
            "Offline checkout",
            CHECKOUT_BANNER,
            checkout_form("price_pro", "One-time payment", 'value="" required', HINT),
        ),
    )


@pytest.mark.parametrize(
    ("posted", "shown_value"),
    [
        pytest.param(b"", "", id="no-field"),
        pytest.param(b"email=", "", id="empty"),
        pytest.param(b"email=+not-an-email+", "not-an-email", id="not-an-email"),
        pytest.param(b"email=a%40b%22%3E%3Cx", "a@b&quot;&gt;&lt;x", id="escaped"),
        pytest.param(b"email=ada%40example", "ada@example", id="no-dot"),
        pytest.param(b"email=a+b%40example.com", "a b@example.com", id="space-inside"),
    ],
)
def test_a_refused_email_shows_the_form_again_exactly(
    app: App, stand_in: OfflinePayments, posted: bytes, shown_value: str
) -> None:
    """400: the form again with what was typed (trimmed, escaped), the alert and the hint."""
    path = open_checkout(stand_in, None, "payment")

    result = request(app, "POST", path, posted)

    alert = '<p class="error" role="alert">Enter your email address to pay.</p>'
    form = checkout_form("price_pro", "One-time payment", f'value="{shown_value}" required', alert + HINT)
    assert_page(result, 400, shown("Offline checkout", CHECKOUT_BANNER, form))


def test_a_signed_in_user_without_an_email_pays_without_one(
    app: App, stand_in: OfflinePayments, store: SQLiteProfiles
) -> None:
    """A user with no email is still known by id: the field is optional, no hint, and Pay needs nothing."""
    store.put(Profile("user-3", None))
    path = open_checkout(stand_in, User("user-3", None))

    assert_page(
        request(app, "GET", path),
        200,
        shown(
            "Offline checkout", CHECKOUT_BANNER, checkout_form("price_pro", "Subscription", 'value=""', "")
        ),
    )
    assert request(app, "POST", path).status == 303
    profile = store.get("user-3")
    assert profile is not None and (profile.price_id, profile.has_access) == ("price_pro", True)


def test_a_returning_customer_needs_no_email(app: App, stand_in: OfflinePayments) -> None:
    """A session for a known Stripe customer links the purchase already: the email is optional."""
    path = add_session(
        stand_in,
        customer="cus_known",
        mode="payment",
        line_items=[{"price": "price_a"}, {"price": "price_<b>"}],
        success_url=SUCCESS,
        cancel_url="https://app.example.com/?a=1&b=2",
    )

    assert_page(
        request(app, "GET", path),
        200,
        shown(
            "Offline checkout",
            CHECKOUT_BANNER,
            checkout_form(
                "price_a, price_&lt;b&gt;",
                "One-time payment",
                'value=""',
                "",
                "https://app.example.com/?a=1&amp;b=2",
            ),
        ),
    )


def test_a_session_with_no_items_or_links_still_shows(app: App, stand_in: OfflinePayments) -> None:
    """A bare session (from an earlier version, without expiry) shows empty fields, not an error."""
    path = add_session(stand_in, client_reference_id="user-1")

    assert_page(
        request(app, "GET", path),
        200,
        shown("Offline checkout", CHECKOUT_BANNER, checkout_form("", "One-time payment", 'value=""', "", "")),
    )


def test_the_paid_page_exactly(app: App, stand_in: OfflinePayments) -> None:
    """Once paid, the checkout says so and links on to the success URL with the session's id filled in."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    session_id = path.rpartition("/")[2]
    request(app, "POST", path)

    body = (
        "<h1>Offline checkout</h1><p>This checkout is paid.</p>"
        f'<p><a href="https://app.example.com/ok?session_id={session_id}">Continue</a></p>'
    )
    assert_page(request(app, "GET", path), 200, shown("Offline checkout", CHECKOUT_BANNER, body))


def test_the_expired_page_exactly(app: App, stand_in: OfflinePayments, clock: Clock) -> None:
    """410 from the second the session expires, linking back to the cancel URL; a second before, the form."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    session = stand_in.sessions.checkout(path.rpartition("/")[2])
    assert session is not None

    clock.now = session["expires_at"] - 1
    before = request(app, "GET", path)
    clock.now = session["expires_at"]

    assert before.status == 200
    body = (
        "<h1>This checkout has expired</h1>"
        "<p>Offline checkout links last 24 hours, as Stripe's do. Start again from the app.</p>"
        f'<p><a href="{CANCEL}">Go back</a></p>'
    )
    expired = shown("Checkout expired", CHECKOUT_BANNER, body)
    assert_page(request(app, "GET", path), 410, expired)
    assert_page(request(app, "POST", path), 410, expired)


def test_a_paid_session_stays_paid_after_it_would_have_expired(
    app: App, stand_in: OfflinePayments, clock: Clock
) -> None:
    """Expiry ends unpaid checkouts only: a paid one still shows paid and Pay still redirects."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    request(app, "POST", path)
    clock.now = time.time() + 25 * 3600

    shown_ = request(app, "GET", path)
    again = request(app, "POST", path)

    assert shown_.status == 200 and "<p>This checkout is paid.</p>" in shown_.body.decode()
    assert again.status == 303


def test_an_expired_session_without_a_cancel_url_links_nowhere(
    app: App, stand_in: OfflinePayments, clock: Clock
) -> None:
    """The expired page's link is empty when the session named no cancel URL."""
    path = add_session(stand_in, expires_at=int(clock.now) - 1)

    result = request(app, "GET", path)

    assert result.status == 410 and '<p><a href="">Go back</a></p>' in result.body.decode()


def test_the_not_found_page_exactly(app: App) -> None:
    """An unknown link answers 404 with a page saying why it may be so."""
    body = (
        "<h1>This link is not valid</h1>"
        "<p>No offline checkout or billing portal session has this id: the link may be mistyped, or it was"
        " made by a service whose offline sessions have since been lost.</p>"
    )
    page = shown("Link not valid", "Offline test mode: no real payment is made", body)
    for path in ("/offline/checkout/cs_offline_unknown", "/offline/portal/bps_offline_9"):
        assert_page(request(app, "GET", path), 404, page)


def test_the_portal_page_exactly(app: App, stand_in: OfflinePayments) -> None:
    """The portal names the customer and links back, both escaped."""
    url = stand_in.create_portal_session("cus_<1>", "https://app.example.com/account?a=1&b=2")

    body = (
        "<h1>Offline billing portal</h1><p>Customer: cus_&lt;1&gt;</p>"
        '<p><a href="https://app.example.com/account?a=1&amp;b=2">Return</a></p>'
    )
    assert_page(
        request(app, "GET", url.removeprefix(BASE)),
        200,
        shown("Offline billing portal", "Offline test billing portal: there is nothing to manage", body),
    )


def test_a_portal_session_without_a_return_url_links_nowhere(app: App, stand_in: OfflinePayments) -> None:
    """An empty return URL gives an empty link, not the text "None"."""
    url = stand_in.create_portal_session("cus_1", "")

    page = request(app, "GET", url.removeprefix(BASE)).body.decode()

    assert '<p><a href="">Return</a></p>' in page


def test_the_redirect_after_paying_is_not_cached(app: App, stand_in: OfflinePayments) -> None:
    """The 303 carries the success URL, an empty body, and no-store."""
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))

    result = request(app, "POST", path)

    session_id = path.rpartition("/")[2]
    assert (result.status, result.body) == (303, b"")
    assert sorted(result.pairs) == [
        ("cache-control", "no-store"),
        ("content-length", "0"),
        ("content-type", "text/html; charset=utf-8"),
        ("location", f"https://app.example.com/ok?session_id={session_id}"),
        ("x-request-id", result.headers["x-request-id"]),
    ]


def test_a_session_without_a_success_url_redirects_to_an_empty_location(
    app: App, stand_in: OfflinePayments
) -> None:
    """Nothing to go back to: the Location is empty, not the text "None"."""
    path = add_session(stand_in, client_reference_id="user-1", mode="payment")

    result = request(app, "POST", path)

    assert (result.status, result.headers["location"]) == (303, "")


def test_an_email_with_spaces_around_and_bad_bytes_beside_it_is_used(
    app: App, stand_in: OfflinePayments, store: SQLiteProfiles
) -> None:
    """The email is trimmed, and bytes that are not UTF-8 elsewhere in the form do not stop the payment."""
    store.put(Profile("user-2", "bo@example.com"))
    path = open_checkout(stand_in, None, "payment")

    result = request(app, "POST", path, b"note=\xff\xfe&email=++bo%40example.com+")

    assert result.status == 303
    profile = store.get("user-2")
    assert profile is not None and profile.has_access


def test_without_a_webhook_secret_paying_is_refused(stand_in: OfflinePayments, store: SQLiteProfiles) -> None:
    """No webhook secret, no signed event: 500 with the webhook's own reason, and nothing is paid."""
    app = App(make_router(profiles=store, settings=Settings(), stand_in=stand_in, clock=time.time), threads=1)
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))

    result = request(app, "POST", path)

    assert (result.status, result.json()) == (500, {"error": "Webhook is not configured"})
    assert store.get("user-1") is None
    session = stand_in.sessions.checkout(path.rpartition("/")[2])
    assert session is not None and "status" not in session


def routed(stand_in: OfflinePayments, deliver: pages.Deliver, store: SQLiteProfiles) -> App:
    """The stand-in's pages over a router whose webhook is reached through `deliver`."""
    router = make_router(FakePayments(), store, SETTINGS, now=time.time())
    for prefix, methods in pages.routes(stand_in, deliver).items():
        router.add_prefix(prefix, methods)
    return App(router, threads=1)


def test_a_webhook_answer_that_is_not_json_is_reported_without_an_error(
    stand_in: OfflinePayments, store: SQLiteProfiles
) -> None:
    """A refusal with no JSON error still becomes a 502 naming the status."""
    app = routed(stand_in, lambda _: Response(503, b"busy"), store)

    result = request(app, "POST", open_checkout(stand_in, User("user-1", "ada@example.com")))

    assert (result.status, result.json()) == (502, {"error": "The webhook answered 503: None"})


def test_the_event_is_posted_as_json_under_the_pages_request_id(
    stand_in: OfflinePayments, store: SQLiteProfiles
) -> None:
    """The webhook sees a JSON POST carrying the page request's id, so the two log lines go together."""
    seen: list[Request] = []

    def spy(delivered: Request) -> Response:
        seen.append(delivered)
        return Response(200, {"received": True})

    app = routed(stand_in, spy, store)
    path = open_checkout(stand_in, User("user-1", "ada@example.com"))
    result = asyncio.run(call(app, "POST", path, b"", {"X-Request-Id": "req-offline-1"}))

    [delivered] = seen
    assert result.status == 303
    assert (delivered.method, delivered.path, delivered.request_id) == (
        "POST",
        "/api/webhook/stripe",
        "req-offline-1",
    )
    assert delivered.header("content-type") == "application/json"
    assert json.loads(delivered.body)["type"] == "checkout.session.completed"
