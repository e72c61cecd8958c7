"""A real browser (Debian's headless Chromium) calling the service from a frontend on another origin.

The service runs offline (the Stripe stand-in) under hypercorn with ALLOWED_ORIGINS set to the frontend's
origins; the frontend page is served from another port. `http://localhost:P` is another site than the
service at `http://127.0.0.1:S`; `http://127.0.0.1:P` is the same site on another origin.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from handlers.adapters.sqlite_profiles import SQLiteProfiles
from handlers.ports import Profile
from tests.helpers.browser import CHROMIUM, LAUNCH_ARGS, Service, page_server, run_service
from tests.helpers.fakes import cookie_header, make_token
from tests.helpers.servers import ISSUER, JWT_SECRET

CHECKOUT = "/api/stripe/create-checkout"
PORTAL = "/api/stripe/create-portal"
# SUPABASE_URL is http://127.0.0.1:54321 in the test environment, so @supabase/ssr names its cookie so.
AUTH_COOKIE = "sb-127-auth-token"
LOGIN = "You must be logged in to view billing information."
NO_ACCOUNT = "You don't have a billing account yet. Make a purchase first."
REFUSED = "Cross-site request refused"
CUSTOMER = "cus_browser_1"
BLOCKED = {"rejected": "TypeError"}


@dataclass(frozen=True)
class Origins:
    """The frontend's origins: two ports, each reachable as localhost and as 127.0.0.1."""

    listed: int
    unlisted: int

    def allowed(self) -> str:
        """ALLOWED_ORIGINS: the listed port under both host names."""
        return f"http://localhost:{self.listed},http://127.0.0.1:{self.listed}"


@pytest.fixture(name="origins", scope="module")
def _origins() -> Iterator[Origins]:
    with page_server() as listed, page_server() as unlisted:
        yield Origins(listed, unlisted)


@pytest.fixture(name="service", scope="module")
def _service(origins: Origins, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from run_service(tmp_path_factory.mktemp("browser"), ALLOWED_ORIGINS=origins.allowed())


@pytest.fixture(name="browser", scope="module")
def _browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/ensure-chromium installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="context")
def _context(browser: Browser, service: Service) -> Iterator[BrowserContext]:
    context = browser.new_context()
    context.add_init_script(f"window.API = {json.dumps(service.url)};")
    try:
        yield context
    finally:
        context.close()


def token(user_id: str, email: str) -> str:
    """A Supabase access token the service accepts for `user_id`."""
    return make_token(JWT_SECRET, iss=ISSUER, sub=user_id, email=email)


def user(service: Service, name: str, customer: str | None = None) -> tuple[str, str]:
    """A fresh user id and its email; with `customer`, a profile holding that Stripe customer."""
    user_id = f"user-browser-{name}-{uuid.uuid4().hex[:8]}"
    email = f"{user_id}@example.com"
    if customer is not None:
        SQLiteProfiles(service.database).put(Profile(user_id, email, customer))
    return user_id, email


def open_page(context: BrowserContext, origin: str) -> Page:
    """The frontend page loaded from `origin`."""
    page = context.new_page()
    page.goto(f"{origin}/")
    return page


def call(page: Page, url: str, init: dict[str, Any]) -> dict[str, Any]:
    """What the page's own fetch saw: {status, body} (body parsed as JSON), or {rejected: error name}."""
    result: dict[str, Any] = page.evaluate("([url, init]) => callApi(url, init)", [url, init])
    if "body" in result:
        result["body"] = json.loads(result["body"])
    return result


def json_post(
    body: Any, *, bearer: str | None = None, key: str | None = None, cookies: bool = True
) -> dict[str, Any]:
    """A fetch init for a JSON POST, as a frontend sends it."""
    headers = {"Content-Type": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if key is not None:
        headers["Idempotency-Key"] = key
    return {
        "method": "POST",
        "credentials": "include" if cookies else "same-origin",
        "headers": headers,
        "body": json.dumps(body),
    }


def simple_post(body: Any, *, cookies: bool) -> dict[str, Any]:
    """A POST the browser sends without a preflight: text/plain, no custom header."""
    return {"method": "POST", "credentials": "include" if cookies else "omit", "body": json.dumps(body)}


def tagged(service: Service, path: str, tag: str) -> str:
    """The service URL of `path`, tagged so the access log tells this test's requests apart."""
    return f"{service.url}{path}?t={tag}"


def new_tag() -> str:
    """A tag unique to this run."""
    return uuid.uuid4().hex[:12]


def checkout_body(origin: str, **changes: Any) -> dict[str, Any]:
    """A valid create-checkout body whose URLs are on the frontend's `origin`."""
    return {
        "priceId": "price_browser",
        "successUrl": f"{origin}/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancelUrl": f"{origin}/pricing",
        "mode": "payment",
        **changes,
    }


def offline_url(service: Service, kind: str) -> re.Pattern[str]:
    """The local URL the offline stand-in answers for a checkout or portal session."""
    session = r"cs_offline_[0-9a-f]{24}" if kind == "checkout" else r"bps_offline_\d+"
    return re.compile(rf"{re.escape(service.url)}/offline/{kind}/{session}")


def answered_url(result: dict[str, Any], service: Service, kind: str) -> str:
    """The URL of a 200 `{"url": ...}` answer pointing at an offline `kind` page; fails on anything else."""
    body = result.get("body")
    url = body.get("url") if isinstance(body, dict) else None
    assert result == {"status": 200, "body": {"url": url}}
    assert isinstance(url, str) and offline_url(service, kind).fullmatch(url)
    return url


def stored(page: Page, path: str) -> dict[str, Any]:
    """What the page's Buy or Billing button read from `path`, kept in its origin's sessionStorage."""
    result: dict[str, Any] = json.loads(page.evaluate("path => sessionStorage.getItem(path)", path))
    result["body"] = json.loads(result["body"])
    return result


# (a) A listed origin on another site, signed in with a Bearer token.


def test_checkout_from_a_listed_origin_reads_200_and_replays_its_idempotency_key(
    context: BrowserContext, service: Service, origins: Origins
) -> None:
    """The preflight passes; the page reads the 200 URL, the same one for the same Idempotency-Key."""
    origin = f"http://localhost:{origins.listed}"
    page = open_page(context, origin)
    bearer = token(*user(service, "checkout"))
    tag = new_tag()
    url = tagged(service, CHECKOUT, tag)

    first = call(page, url, json_post(checkout_body(origin), bearer=bearer, key=f"click-{tag}-1"))
    again = call(page, url, json_post(checkout_body(origin), bearer=bearer, key=f"click-{tag}-1"))
    other = call(page, url, json_post(checkout_body(origin), bearer=bearer, key=f"click-{tag}-2"))

    assert answered_url(again, service, "checkout") == answered_url(first, service, "checkout")
    assert answered_url(other, service, "checkout") != answered_url(first, service, "checkout")
    # One preflight: the browser keeps its answer (Access-Control-Max-Age) for the same URL.
    post = ("POST", CHECKOUT, "200", origin)
    assert service.seen(tag) == [("OPTIONS", CHECKOUT, "204", origin), post, post, post]


@pytest.mark.parametrize(
    ("path", "body", "signed_in", "customer", "status", "answer"),
    [
        pytest.param(
            CHECKOUT, {}, True, None, 400, {"error": "Price ID is required"}, id="checkout-no-price"
        ),
        pytest.param(
            CHECKOUT,
            {"priceId": "price_browser"},
            True,
            None,
            400,
            {"error": "Success and cancel URLs are required"},
            id="checkout-no-urls",
        ),
        pytest.param(
            PORTAL, {"returnUrl": "RETURN"}, False, None, 401, {"error": LOGIN}, id="portal-signed-out"
        ),
        pytest.param(
            PORTAL, {}, True, None, 400, {"error": "Return URL is required"}, id="portal-no-return-url"
        ),
        pytest.param(
            PORTAL, {"returnUrl": "RETURN"}, True, None, 400, {"error": NO_ACCOUNT}, id="portal-no-account"
        ),
        pytest.param(PORTAL, {"returnUrl": "RETURN"}, True, CUSTOMER, 200, None, id="portal-with-customer"),
    ],
)
def test_a_listed_origin_reads_every_answer(
    context: BrowserContext,
    service: Service,
    origins: Origins,
    path: str,
    body: dict[str, str],
    signed_in: bool,
    customer: str | None,
    status: int,
    answer: dict[str, str] | None,
) -> None:
    """Bearer and Idempotency-Key pass the preflight; the page reads the exact status and body."""
    origin = f"http://localhost:{origins.listed}"
    page = open_page(context, origin)
    bearer = token(*user(service, "answers", customer)) if signed_in else None
    sent = {name: f"{origin}/account" if value == "RETURN" else value for name, value in body.items()}

    result = call(page, tagged(service, path, new_tag()), json_post(sent, bearer=bearer, key=new_tag()))

    if answer is None:
        assert status == 200
        answered_url(result, service, "portal")
    else:
        assert result == {"status": status, "body": answer}


# (b) An origin that is not listed.


def test_an_unlisted_origin_is_blocked_after_the_preflight(
    context: BrowserContext, service: Service, origins: Origins
) -> None:
    """A Bearer call needs a preflight; without an Allow-Origin the browser never sends the POST."""
    origin = f"http://localhost:{origins.unlisted}"
    page = open_page(context, origin)
    bearer = token(*user(service, "unlisted", CUSTOMER))
    tag = new_tag()

    result = call(page, tagged(service, PORTAL, tag), json_post({"returnUrl": f"{origin}/a"}, bearer=bearer))

    assert result == BLOCKED
    assert service.seen(tag) == [("OPTIONS", PORTAL, "204", origin)]


def test_a_simple_request_from_an_unlisted_origin_runs_but_its_answer_is_hidden(
    context: BrowserContext, service: Service, origins: Origins
) -> None:
    """A text/plain POST needs no preflight: the service answers it, the browser hides the answer."""
    origin = f"http://localhost:{origins.unlisted}"
    page = open_page(context, origin)
    tag = new_tag()

    result = call(page, tagged(service, CHECKOUT, tag), simple_post(checkout_body(origin), cookies=False))

    assert result == BLOCKED
    assert service.seen(tag) == [("POST", CHECKOUT, "200", origin)]


# (c) The Supabase session cookie on the service's host (127.0.0.1), SameSite=Lax as @supabase/ssr sets it.


def sign_in_with_cookie(context: BrowserContext, service: Service, user_id: str, email: str) -> None:
    """Set the session cookie @supabase/ssr would set, on the service's host."""
    name, _, value = cookie_header(token(user_id, email), name=AUTH_COOKIE).partition("=")
    context.add_cookies([{"name": name, "value": value, "url": f"{service.url}/", "sameSite": "Lax"}])


def test_a_cookie_session_from_a_listed_same_site_origin(
    context: BrowserContext, service: Service, origins: Origins
) -> None:
    """credentials: include sends the cookie and the service reads it; without it the call is signed out."""
    origin = f"http://127.0.0.1:{origins.listed}"
    user_id, email = user(service, "cookie", CUSTOMER)
    sign_in_with_cookie(context, service, user_id, email)
    page = open_page(context, origin)
    body = {"returnUrl": f"{origin}/account"}

    with_cookie = call(page, tagged(service, PORTAL, new_tag()), json_post(body))
    without = call(page, tagged(service, PORTAL, new_tag()), json_post(body, cookies=False))

    answered_url(with_cookie, service, "portal")
    assert without == {"status": 401, "body": {"error": LOGIN}}


def test_a_lax_cookie_does_not_cross_sites(
    context: BrowserContext, service: Service, origins: Origins
) -> None:
    """From a listed origin on another site (localhost) the browser keeps the Lax cookie back: 401."""
    origin = f"http://localhost:{origins.listed}"
    sign_in_with_cookie(context, service, *user(service, "cross-site", CUSTOMER))
    page = open_page(context, origin)

    result = call(page, tagged(service, PORTAL, new_tag()), json_post({"returnUrl": f"{origin}/account"}))

    assert result == {"status": 401, "body": {"error": LOGIN}}


def test_a_cookie_post_from_an_unlisted_same_site_origin_is_refused(
    context: BrowserContext, service: Service, origins: Origins
) -> None:
    """The browser sends the cookie (same site) where no preflight is needed, and the service says 403."""
    origin = f"http://127.0.0.1:{origins.unlisted}"
    sign_in_with_cookie(context, service, *user(service, "refused", CUSTOMER))
    page = open_page(context, origin)
    body = {"returnUrl": f"{origin}/account"}
    fetch_tag, simple_tag, form_tag = new_tag(), new_tag(), new_tag()

    preflighted = call(page, tagged(service, PORTAL, fetch_tag), json_post(body))
    simple = call(page, tagged(service, PORTAL, simple_tag), simple_post(body, cookies=True))
    page.eval_on_selector(
        "#portal-form", "(form, url) => { form.action = url; }", tagged(service, PORTAL, form_tag)
    )
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Post form").click()
    response = navigation.value

    assert (preflighted, simple) == (BLOCKED, BLOCKED)
    assert service.seen(fetch_tag) == [("OPTIONS", PORTAL, "204", origin)]
    assert service.seen(simple_tag) == [("POST", PORTAL, "403", origin)]
    assert response is not None
    assert (response.status, response.json()) == (403, {"error": REFUSED})
    assert service.seen(form_tag) == [("POST", PORTAL, "403", origin)]


# (d) The offline purchase loop, clicked through.


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out-gives-email"])
def test_the_offline_purchase_loop_clicked_through(
    context: BrowserContext, service: Service, origins: Origins, signed_in: bool
) -> None:
    """Buy -> offline checkout -> Pay -> success URL with the session id -> Billing -> portal -> back."""
    origin = f"http://localhost:{origins.listed}"
    user_id, email = user(service, "loop")
    if not signed_in:
        # A signed-out purchase is linked to the profile that has the email given on the checkout page.
        SQLiteProfiles(service.database).put(Profile(user_id, email, None))
    page = open_page(context, origin)
    if signed_in:
        page.evaluate("token => { window.TOKEN = token; }", token(user_id, email))

    page.get_by_role("button", name="Buy").click()
    page.wait_for_url(offline_url(service, "checkout"))
    session_id = page.url.rsplit("/", 1)[-1]
    field = page.get_by_label("Email")
    if signed_in:
        assert (field.input_value(), field.get_attribute("readonly")) == (email, "")
    else:
        assert field.input_value() == ""
        field.fill(email)
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(f"{origin}/success?session_id={session_id}")
    checkout = stored(page, CHECKOUT)

    page.evaluate("token => { window.TOKEN = token; }", token(user_id, email))
    page.get_by_role("button", name="Billing").click()
    page.wait_for_url(offline_url(service, "portal"))
    portal_url = page.url
    heading = page.get_by_role("heading").inner_text()
    customer = page.get_by_text("Customer:").inner_text()
    page.get_by_role("link", name="Return").click()
    page.wait_for_url(f"{origin}/account")
    portal = stored(page, PORTAL)

    assert checkout == {"status": 200, "body": {"url": f"{service.url}/offline/checkout/{session_id}"}}
    assert portal == {"status": 200, "body": {"url": portal_url}}
    assert heading == "Offline billing portal"
    assert re.fullmatch(r"Customer: cus_offline_[0-9a-f]{24}", customer)
