"""A local stand-in for the Stripe API calls this service makes (Checkout and Billing Portal sessions).

Stdlib only. In a test: `with StripeEmulator() as stripe: ...`; as a command:
`python scripts/stripe_emulator.py --port 12111 [--delay 0.1] [--fault hang] [--no-portal-default]`.
Customers `cus_missing...`, prices `price_missing...` and portal configurations `bpc_missing...` are
unknown to it, as deleted objects (or another mode's) are to Stripe.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Json = dict[str, Any]
Answer = tuple[int, Json, dict[str, str]]
RATE_LIMITED = (
    "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."
)
SAME_PARAMS = (
    "Keys for idempotent requests can only be used with the same parameters they were first used with. "
    "Try using a key other than '{}' if you meant to execute a different request."
)
NO_PORTAL_CONFIGURATION = (
    "No configuration provided and your test mode default configuration has not been created. Provide a "
    "configuration or create your default by saving your customer portal settings in test mode at "
    "https://dashboard.stripe.com/test/settings/billing/portal."
)
COPIED = "cancel_url client_reference_id customer customer_creation customer_email mode success_url".split()


def known_price(price: str) -> bool:
    """The default catalogue: every `price_...` but those that say they are missing.

    `price_missing_1` and the contract suite's `price_contract_missing_<run>` are unknown, as in an account
    that never created them; Stripe answers those 400 `resource_missing`, so this emulator does too.
    """
    return price.startswith("price_") and not _says_missing(price)


def known_customer(customer: str) -> bool:
    """The default customers: every `cus_...` but those that say they are missing (`cus_missing_1`)."""
    return customer.startswith("cus_") and not _says_missing(customer)


def _says_missing(object_id: str) -> bool:
    return any(part.startswith("missing") for part in object_id.split("_")[1:])


def known_configuration(configuration: str) -> bool:
    """The default portal configurations: every `bpc_...` but `bpc_missing...`."""
    return configuration.startswith("bpc_") and not configuration.startswith("bpc_missing")


@dataclass
class Recorded:
    """One request as received; `status` and `body` stay None until (unless) it is answered."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-case
    params: dict[str, str]  # form body (GET: query), decoded, brackets literal: "line_items[0][price]"
    status: int | None = None
    body: Json | None = None


class Failure(Exception):
    """A Stripe error answer: `{"error": {"type", "message", "code"?, "param"?}}`."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None, **more: Any) -> None:
        super().__init__(message)
        self.status: int = more.get("status", 400)
        error = {"type": more.get("kind", "invalid_request_error"), "message": message, "code": code}
        self.body: Json = {"error": {k: v for k, v in (error | {"param": param}).items() if v is not None}}


def missing(what: str, value: str, param: str, status: int = 400) -> Failure:
    """Stripe's `resource_missing` error for an unknown object."""
    return Failure(f"No such {what}: '{value}'", param, "resource_missing", status=status)


class StripeEmulator:
    """A threaded HTTP/1.1 keep-alive server answering like Stripe; `requests` records every request."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        delay: float = 0.0,
        is_known_price: Callable[[str], bool] = known_price,
        is_known_customer: Callable[[str], bool] = known_customer,
        is_known_configuration: Callable[[str], bool] = known_configuration,
        portal_default: bool = True,
    ) -> None:
        self.host, self.port, self.delay = host, port, delay
        self.is_known_price, self.is_known_customer = is_known_price, is_known_customer
        self.is_known_configuration = is_known_configuration
        # Whether the account's default customer portal configuration was saved in the dashboard.
        self.portal_default = self._saved_portal_default = portal_default
        self._fault: str | None = None
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self._requests: list[Recorded] = []
        self._sessions: dict[str, Json] = {}
        self._stored: dict[tuple[str, str], tuple[str, Answer]] = {}
        self._unhang = threading.Event()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        """The base URL to hand to the SDK (`STRIPE_API_BASE`)."""
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot of every request received so far, oldest first."""
        with self.lock:
            return list(self._requests)

    @property
    def fault(self) -> str | None:
        """The current fault mode; change it with set_fault()."""
        return self._fault

    def set_fault(self, mode: str | None) -> None:
        """None to behave; "hang" (no answer), "drop" (close unanswered) or "status:<400-599>" (an error)."""
        code = (mode or "").removeprefix("status:")
        if mode not in (None, "hang", "drop") and not (
            mode != code and code.isdigit() and 400 <= int(code) < 600
        ):
            raise ValueError(f"unknown fault mode {mode!r}: use None, hang, drop or status:<code>")
        with self.lock:
            self._fault = mode
            self._unhang.set()  # requests hanging so far end, unanswered
            self._unhang = threading.Event()

    def reset(self) -> None:
        """Forget requests, sessions and idempotency keys; clear the fault and restore portal_default."""
        self.set_fault(None)
        with self.lock:
            self.portal_default = self._saved_portal_default
            self._requests.clear()
            self._sessions.clear()
            self._stored.clear()

    def start(self) -> StripeEmulator:
        """Listen (port 0 picks a free port) and serve from a daemon thread."""
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening, end hanging requests and close every open connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            self._unhang.set()
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def __enter__(self) -> StripeEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def handle(self, http: _Handler) -> None:
        """Record one request, then misbehave as the fault says or answer like Stripe."""
        raw = http.rfile.read(int(http.headers.get("Content-Length") or 0)).decode()
        parts = urlsplit(http.path)
        pairs = parse_qsl(raw if http.command == "POST" else parts.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in http.headers.items()}
        record = Recorded(http.command, parts.path, parts.query, headers, dict(pairs))
        with self.lock:
            self._requests.append(record)
            fault, unhang, delay = self._fault, self._unhang, self.delay
        if fault in ("hang", "drop"):
            if fault == "hang":
                unhang.wait()
            http.close_connection = True
            return
        time.sleep(delay)
        try:
            if fault == "status:429":
                raise Failure(RATE_LIMITED, None, "rate_limit", status=429)
            if fault is not None:
                raise Failure("An unknown error occurred.", status=int(fault[7:]), kind="api_error")
            answer = self._answer(record, pairs)
        except Failure as exc:
            answer = (exc.status, exc.body, {})
        with self.lock:  # before sending: a client that has its answer sees it recorded
            record.status, record.body = answer[0], answer[1]
        body = json.dumps(answer[1]).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **answer[2]}
        try:
            http.send_response(answer[0])
            for name, value in (headers | {"Request-Id": f"req_{secrets.token_hex(7)}"}).items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(body)
        except OSError:
            http.close_connection = True

    def _answer(self, record: Recorded, pairs: list[tuple[str, str]]) -> Answer:
        scheme, _, key = record.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.startswith(("sk_test_", "rk_test_")):
            shown = f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else "(none)"
            raise Failure(f"Invalid API Key provided: {shown}", status=401, kind="authentication_error")
        method, path, params = record.method, record.path, record.params
        if method == "POST" and path in ("/v1/checkout/sessions", "/v1/billing_portal/sessions"):
            create = self._checkout if path == "/v1/checkout/sessions" else self._portal
            idempotency_key = record.headers.get("idempotency-key")
            if not idempotency_key:
                return 200, create(params), {}
            fingerprint = json.dumps([path, sorted(pairs)])
            with self.lock:  # check, create and store in one step; errors are not stored
                stored = self._stored.get((key, idempotency_key))
                if stored is not None and stored[0] != fingerprint:
                    raise Failure(SAME_PARAMS.format(idempotency_key), kind="idempotency_error")
                if stored is not None:
                    return stored[1][0], stored[1][1], {"Idempotent-Replayed": "true"}
                answer: Answer = (200, create(params), {})
                self._stored[(key, idempotency_key)] = (fingerprint, answer)
                return answer
        segments = path.split("/")  # "", "v1", "checkout", "sessions", id[, "line_items"]
        if method == "GET" and path.startswith("/v1/checkout/sessions/") and len(segments) in (5, 6):
            session = self._sessions.get(segments[4])
            if session is None or segments[5:] not in ([], ["line_items"]):
                raise missing("checkout.session", segments[4], "session", 404)
            if segments[5:]:
                return 200, session["line_items"], {}
            expand = {value for name, value in pairs if name == "expand" or name.startswith("expand[")}
            return 200, {k: v for k, v in session.items() if k != "line_items" or k in expand}, {}
        raise Failure(f"Unrecognized request URL ({method}: {path}).", status=404)

    def _checkout(self, params: dict[str, str]) -> Json:
        mode = params.get("mode")
        if mode not in ("payment", "subscription", "setup"):
            raise Failure(f"Invalid mode: {mode}" if mode else "Missing required param: mode.", "mode")
        for name in ("success_url", "cancel_url"):
            if name in params and not params[name].startswith(("http://", "https://")):
                raise Failure("Not a valid URL", name, "url_invalid")
        for other in ("customer_email", "customer_creation"):
            if "customer" in params and other in params:
                raise Failure(f"You may only specify one of these parameters: customer, {other}.")
        if "customer_creation" in params and mode != "payment":
            raise Failure("`customer_creation` can only be used in `payment` mode.", "customer_creation")
        items: list[Json] = []
        while (price := params.get(f"line_items[{len(items)}][price]")) is not None:
            if not self.is_known_price(price):
                raise missing("price", price, f"line_items[{len(items)}][price]")
            quantity = int(params.get(f"line_items[{len(items)}][quantity]") or 1)
            price_object = {"id": price, "object": "price", "unit_amount": 1000, "currency": "usd"}
            items.append({"id": f"li_{secrets.token_hex(12)}", "object": "item", "price": price_object})
            items[-1]["quantity"] = quantity
        customer = params.get("customer")
        if customer is not None and not self.is_known_customer(customer):
            raise missing("customer", customer, "customer")
        session_id, now = f"cs_test_a1{secrets.token_hex(28)}", int(time.time())
        total = 1000 * sum(int(item["quantity"]) for item in items)
        session: Json = {name: params.get(name) for name in COPIED} | {
            "id": session_id,
            "object": "checkout.session",
            "allow_promotion_codes": params.get("allow_promotion_codes") == "true",
            "amount_subtotal": total,
            "amount_total": total,
            "created": now,
            "currency": "usd",
            "expires_at": now + 86400,
            "livemode": False,
            "payment_status": "unpaid",
            "status": "open",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        lines = f"/v1/checkout/sessions/{session_id}/line_items"
        self._sessions[session_id] = session | {
            "line_items": {"object": "list", "data": items, "has_more": False, "url": lines}
        }
        return session

    def _portal(self, params: dict[str, str]) -> Json:
        customer = params.get("customer")
        if not customer:
            raise Failure("Missing required param: customer.", "customer", "parameter_missing")
        if not self.is_known_customer(customer):
            raise missing("customer", customer, "customer")
        configuration = params.get("configuration")
        if configuration is not None and not self.is_known_configuration(configuration):
            raise missing("configuration", configuration, "configuration")
        if configuration is None and not self.portal_default:
            raise Failure(NO_PORTAL_CONFIGURATION)
        return {
            "id": f"bps_{secrets.token_hex(12)}",
            "object": "billing_portal.session",
            "configuration": configuration or "bpc_default",
            "created": int(time.time()),
            "customer": customer,
            "livemode": False,
            "return_url": params.get("return_url"),
            "url": f"https://billing.stripe.com/p/session/test_{secrets.token_urlsafe(24)}",
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # 64 clients connecting at once must not overflow the backlog

    def __init__(self, address: tuple[str, int], emulator: StripeEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; without this, Nagle's algorithm and the client's
    # delayed ACK hold every answer on a kept-alive connection for 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.emulator.lock:
            self.server.emulator.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.emulator.lock:
            self.server.emulator.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self.server.emulator.handle(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def serve_async(emulator: StripeEmulator, ready: Callable[[str], None] = print) -> None:
    """Serve `emulator` from one asyncio loop instead of a thread per connection, until cancelled.

    For load tests: many keep-alive clients waiting on `delay` at once cost no threads.
    """

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()).strip():
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                raw = (await reader.readexactly(int(headers.get("content-length") or 0))).decode()
                parts = urlsplit(target)
                pairs = parse_qsl(raw if method == "POST" else parts.query, keep_blank_values=True)
                record = Recorded(method, parts.path, parts.query, headers, dict(pairs))
                with emulator.lock:
                    emulator._requests.append(record)
                    fault, delay = emulator.fault, emulator.delay
                if fault == "hang":
                    await asyncio.Event().wait()
                if fault == "drop":
                    return
                await asyncio.sleep(delay)
                try:
                    if fault is not None:
                        if fault == "status:429":
                            raise Failure(RATE_LIMITED, None, "rate_limit", status=429)
                        raise Failure("An unknown error occurred.", status=int(fault[7:]), kind="api_error")
                    status, body, extra = emulator._answer(record, pairs)
                except Failure as exc:
                    status, body, extra = exc.status, exc.body, {}
                record.status, record.body = status, body
                data = json.dumps(body).encode()
                head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Content-Type: application/json"]
                head += [f"Content-Length: {len(data)}", f"Request-Id: req_{secrets.token_hex(7)}"]
                head += [f"{name}: {value}" for name, value in extra.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, emulator.host, emulator.port, backlog=1024)
    emulator.port = server.sockets[0].getsockname()[1]
    ready(emulator.url)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT or SIGTERM; print the base URL once listening."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--fault", default=None, help="hang, drop or status:<code>")
    parser.add_argument("--asyncio", action="store_true", help="one event loop, no thread per connection")
    parser.add_argument(
        "--no-portal-default",
        action="store_true",
        help="as an account whose customer portal settings were never saved",
    )
    args = parser.parse_args(argv)
    emulator = StripeEmulator(
        args.port, args.host, delay=args.delay, portal_default=not args.no_portal_default
    )
    emulator.set_fault(args.fault)
    if args.asyncio:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            asyncio.run(serve_async(emulator, lambda url: print(url, flush=True)))
        except KeyboardInterrupt:
            pass
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with emulator:
        print(emulator.url, flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
