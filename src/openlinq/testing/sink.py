"""A webhook receiver for tests: verifies each delivery, records it, and can forward it.

Signatures are checked with the official SDK's ``client.webhooks.unwrap`` (Standard
Webhooks) when linq-python is installed, else with ``standardwebhooks`` directly.
Forwarding hands the agent the delivery byte for byte with its original headers, so
the agent's own verification passes, and answers openlinq with the agent's status
(an agent that fails makes the delivery fail and be retried, as in production).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from openlinq.testing.server import free_port, serve_app
from openlinq.testing.sim import TestAccountInfo, _ok, http_client

# Headers a proxy must not copy: the connection's own.
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    verified: bool
    forwarded_status: int | None

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@cache
def _verifier() -> Callable[[str, dict[str, str], str], None]:
    """Verification with the SDK's ``unwrap`` (one client per process: it makes no requests)."""
    try:
        from linq import LinqAPIV3
    except ImportError:
        from standardwebhooks import Webhook

        def verify(body: str, headers: dict[str, str], secret: str) -> None:
            Webhook(secret).verify(body, headers)

        return verify
    client = LinqAPIV3(api_key="unused", base_url="http://127.0.0.1", http_client=http_client())

    def unwrap(body: str, headers: dict[str, str], secret: str) -> None:
        client.webhooks.unwrap(body, headers=headers, key=secret)

    return unwrap


class WebhookSink:
    """Receives the account's webhooks on a loopback port (subscribed to every event)."""

    def __init__(self, server_url: str, account: TestAccountInfo) -> None:
        self.server_url = server_url
        self.account = account
        self.port = free_port()
        self.deliveries: list[Delivery] = []
        self.secret = ""
        self.subscription_id = ""
        self.target: str | None = None
        self._verify = _verifier()
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._http = http_client()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def start(self) -> WebhookSink:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        # A short poll: shutdown() waits for it, once per test.
        serving = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        serving.start()
        headers = {"Authorization": f"Bearer {self.account.api_key}"}
        with http_client(self.account.base_url, headers) as api:
            events = _ok(api.get("/v3/webhook-events"))["events"]
            created = _ok(
                api.post(
                    "/v3/webhook-subscriptions",
                    json={"target_url": self.url, "subscribed_events": events},
                )
            )
        self.secret, self.subscription_id = created["signing_secret"], created["id"]
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._stack.close()
        self._http.close()

    def forward_to(self, target: str | Any, path: str = "/webhook") -> str:
        """Hand every verified delivery to the agent: a URL, or an ASGI app (served here, on
        a loopback port, until the test ends; ``path`` is its webhook route). Returns the URL."""
        if isinstance(target, str):
            self.target = target
        else:
            self.target = self._stack.enter_context(serve_app(target)) + path
        return self.target

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Verified events, in arrival order."""
        with self._lock:
            found = [d.event for d in self.deliveries if d.verified]
        return [e for e in found if event_type in (None, e["event_type"])]

    def _receive(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        try:
            self._verify(body.decode(), headers, self.secret)
        except Exception:  # any verification failure: refuse, as an agent must
            with self._lock:
                self.deliveries.append(Delivery(headers, body, False, None))
            return 401, b'{"error":"bad signature"}'
        status, answer = 200, b'{"ok":true}'
        if self.target is not None:
            forwarded = {k: v for k, v in headers.items() if k not in _HOP_HEADERS}
            try:
                response = self._http.post(self.target, content=body, headers=forwarded)
                status, answer = response.status_code, response.content
            except httpx.HTTPError as exc:
                status, answer = 502, str(exc).encode()
        with self._lock:
            self.deliveries.append(Delivery(headers, body, True, status))
        return status, answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = sink._receive(headers, body)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # openlinq gave up waiting (its webhook timeout)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def running_sink(server_url: str, account: TestAccountInfo) -> Iterator[WebhookSink]:
    sink = WebhookSink(server_url, account).start()
    try:
        yield sink
    finally:
        sink.close()
