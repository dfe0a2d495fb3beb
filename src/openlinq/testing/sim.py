"""The harness API from a test: test accounts, simulated phones, settle, waiting for replies.

Everything here is HTTP (``/sim/v1``), so it drives an in-process server and an
external one (``--openlinq-url``) alike.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx

# wait_for_message: how long one long poll lasts (real seconds) before the clock moves on.
POLL_SECONDS = 0.1
# ... and how far a manual clock moves between polls (simulated seconds).
CLOCK_STEP_SECONDS = 0.5


@cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of milliseconds per client: once per process.
    return httpx.create_ssl_context()


def http_client(
    base_url: str = "", headers: dict[str, str] | None = None, timeout: float = 30
) -> httpx.Client:
    """An httpx client for the harness (sharing one TLS context)."""
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, verify=_tls())


class HarnessError(AssertionError):
    """The harness API answered with an error (its Linq error body is in the message)."""


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise HarnessError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text}"
        )
    return response.json() if response.content else None


@dataclass(frozen=True)
class TestAccountInfo:
    account_id: str
    api_key: str
    base_url: str  # the SDKs' base URL (…/api/partner)
    lines: list[str]

    __test__ = False  # not a pytest test class

    @property
    def env(self) -> dict[str, str]:
        """The variables the official SDKs read, for an agent that builds its own client."""
        return {"LINQ_API_V3_BASE_URL": self.base_url, "LINQ_API_V3_API_KEY": self.api_key}


def create_test_account(
    server_url: str,
    *,
    lines: tuple[str, ...] = ("iMessage", "iMessage"),
    operator_key: str | None = None,
    name: str = "test",
) -> TestAccountInfo:
    """A fresh account with its own key and lines (POST /sim/v1/accounts)."""
    headers = {"X-Operator-Key": operator_key} if operator_key else {}
    with http_client(server_url, headers) as http:
        body = _ok(http.post("/sim/v1/accounts", json={"name": name, "lines": list(lines)}))
    return TestAccountInfo(
        body["account_id"],
        body["api_key"],
        body["base_url"],
        [line["phone_number"] for line in body["lines"]],
    )


@dataclass(frozen=True)
class Received:
    """A message the agent sent to a phone."""

    message_id: str
    chat_id: str
    text: str
    sender: str
    raw: dict[str, Any] = field(repr=False)


class Sim:
    """The simulator for one test account."""

    def __init__(
        self, server_url: str, account: TestAccountInfo, operator_key: str | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {account.api_key}"}
        if operator_key:
            headers["X-Operator-Key"] = operator_key
        # Generous: a settle delivers every due webhook, each bounded by the server's timeout.
        self.http = http_client(server_url, headers, timeout=120)
        self.account = account
        self.phones: dict[str, Phone] = {}
        self._manual_clock: bool | None = None

    def close(self) -> None:
        self.http.close()

    @property
    def line(self) -> str:
        """The account's first line (where phones write unless told otherwise)."""
        return self.account.lines[0]

    def phone(self, handle: str, *, service: str | None = None, **settings: Any) -> Phone:
        """A simulated phone. ``service`` ("iMessage", "SMS", "RCS") limits what it speaks;
        other keyword arguments configure the device (see PUT /sim/v1/devices/{handle})."""
        if service is not None:
            settings["services"] = [service]
        if settings:
            _ok(self.http.put(f"/sim/v1/devices/{handle}", json=settings))
        phone = self.phones.get(handle) or Phone(self, handle)
        self.phones[handle] = phone
        return phone

    @property
    def manual_clock(self) -> bool:
        if self._manual_clock is None:
            self._manual_clock = _ok(self.http.get("/sim/v1/clock"))["mode"] == "manual"
        return self._manual_clock

    def advance(self, seconds: float) -> int:
        """Move the manual clock forward and run what became due; the jobs run."""
        return int(
            _ok(self.http.post("/sim/v1/clock/advance", json={"seconds": seconds}))["jobs_run"]
        )

    def run_due(self) -> int:
        """Run every job due now (deliver due webhooks) without moving the clock."""
        return int(self.settle(max_seconds=0)["jobs_run"])

    def settle(self, max_seconds: float = 120.0) -> dict[str, Any]:
        """Run every due job and deliver every webhook; on a manual clock, move it to each
        next pending job in turn, until nothing is queued within ``max_seconds``."""
        return dict(_ok(self.http.post("/sim/v1/settle", json={"max_seconds": max_seconds})))

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The account's webhook events, oldest first."""
        events = _ok(self.http.get("/sim/v1/events", params={"limit": 500}))["events"]
        return [e for e in reversed(events) if event_type in (None, e["event_type"])]

    def transcript(self) -> str:
        """Every phone's conversation, as printed when a test fails."""
        return "\n\n".join(phone.transcript() for phone in self.phones.values())

    def _step(self) -> None:
        """Let time pass while waiting: a small clock step (manual), or due jobs (real)."""
        if self.manual_clock:
            self.advance(CLOCK_STEP_SECONDS)
        else:
            self.run_due()


class Phone:
    """One simulated person's phone."""

    def __init__(self, sim: Sim, handle: str) -> None:
        self.sim = sim
        self.handle = handle
        self.chat_id: str | None = None  # the last chat it wrote or was written in
        self._cursor: str | None = None  # the last agent message wait_for_message returned

    def __repr__(self) -> str:
        return f"Phone({self.handle!r})"

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change only these device settings (PATCH: a script keeps its place), e.g.
        ``reachable=False`` to switch the phone off; returns the device's profile."""
        body = _ok(self.sim.http.patch(f"/sim/v1/devices/{self.handle}", json=settings))
        return dict(body["profile"])

    def _target(self, to: str | None) -> dict[str, str]:
        if to is not None:
            return {"to": to}
        if self.chat_id is not None:
            return {"chat_id": self.chat_id}
        return {"to": self.sim.line}

    def says(self, text: str, *, to: str | None = None, reply_to: str | None = None) -> str:
        """The person sends ``text`` (to a line, else into its last chat, else to the first
        line); the webhook goes out at once. Returns the message id."""
        body: dict[str, Any] = {"text": text, **self._target(to)}
        if reply_to is not None:
            body["reply_to"] = reply_to
        sent = _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/messages", json=body))
        self.chat_id = sent["chat_id"]
        self.sim.run_due()
        return str(sent["message_id"])

    def sends(self, parts: list[dict[str, Any]], *, to: str | None = None) -> str:
        """Like ``says``, with message parts (media by URL or attachment id)."""
        body = {"parts": parts, **self._target(to)}
        sent = _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/messages", json=body))
        self.chat_id = sent["chat_id"]
        self.sim.run_due()
        return str(sent["message_id"])

    def reacts(self, message: str | Received, reaction: str, *, emoji: str | None = None) -> None:
        """Tapback on a message (its id, or what ``wait_for_message`` returned); ``emoji`` is
        the custom tapback's emoji, or with ``"sticker"`` the sticker peeled on."""
        message_id = message.message_id if isinstance(message, Received) else message
        body: dict[str, Any] = {"message_id": message_id, "type": reaction}
        if emoji is not None:
            body["emoji" if reaction == "sticker" else "custom_emoji"] = emoji
        _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/reactions", json=body))
        self.sim.run_due()

    def creates_poll(self, options: list[str], *, chat_id: str | None = None) -> str:
        """The person sends a poll into its last chat (or ``chat_id``); returns its message id
        (the agent gets ``poll.received``)."""
        chat = chat_id or self.chat_id
        if chat is None:
            raise HarnessError(f"{self.handle} has no chat yet: say something first")
        body = {"chat_id": chat, "options": options}
        sent = _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/polls", json=body))
        self.chat_id = sent["chat_id"]
        self.sim.run_due()
        return str(sent["message_id"])

    def votes(self, poll: str, option: int | str, *, remove: bool = False) -> None:
        """Vote (or, ``remove``, take the vote back) on a poll (its message id): ``option`` is
        an option id, or its number (1 = the first)."""
        if isinstance(option, int):
            envelope = _ok(self.sim.http.get(f"/v3/messages/{poll}/poll"))
            option = str(envelope["poll"]["options"][option - 1]["option_id"])
        body = {"message_id": poll, "option_id": option, "operation": "remove" if remove else "add"}
        _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/poll-votes", json=body))
        self.sim.run_due()

    def adds_poll_options(self, poll: str, options: list[str]) -> None:
        """The person adds options to a poll (the agent gets ``poll.updated``)."""
        body = {"message_id": poll, "options": options}
        _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/poll-options", json=body))
        self.sim.run_due()

    def types(self, *, stopped: bool = False, chat_id: str | None = None) -> None:
        """The typing indicator in its chat (started, or stopped)."""
        chat = chat_id or self.chat_id
        if chat is None:
            raise HarnessError(f"{self.handle} has no chat yet: say something first")
        state = "stopped" if stopped else "started"
        body = {"chat_id": chat, "state": state}
        _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/typing", json=body))
        self.sim.run_due()

    def reads(self, *, chat_id: str | None = None) -> int:
        """Marks what it received as read (read receipts go to the agent)."""
        chat = chat_id or self.chat_id
        body = {"chat_id": chat}
        count = int(
            _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/read", json=body))["count"]
        )
        self.sim.run_due()
        return count

    def shares_location(
        self,
        longitude: float,
        latitude: float,
        *,
        to: str | None = None,
        duration_seconds: float | None = None,
        address: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"longitude": longitude, "latitude": latitude, **self._target(to)}
        if duration_seconds is not None:
            body["duration_seconds"] = duration_seconds
        if address is not None:
            body["address"] = address
        _ok(self.sim.http.post(f"/sim/v1/devices/{self.handle}/location", json=body))
        self.sim.run_due()

    def pays(self, checkout: str | Received, *, outcome: str = "pay") -> dict[str, Any]:
        """Pays a checkout (or ``outcome="decline"`` / ``"authorize"``): its ``checkout_url``,
        or the agentpay card that carried it (its id, or what ``wait_for_message`` returned).
        Returns the payment request as it is now."""
        if isinstance(checkout, Received):
            body: dict[str, Any] = {"message_id": checkout.message_id}
        elif checkout.startswith(("http://", "https://")):
            body = {"checkout_url": checkout}
        else:
            body = {"message_id": checkout}
        path = f"/sim/v1/devices/{self.handle}/payments"
        request = _ok(self.sim.http.post(path, json={**body, "outcome": outcome}))
        self.sim.run_due()
        return dict(request)

    def opts_out(self, *, to: str | None = None) -> str:
        """The person texts STOP: the line may no longer write to it."""
        return self.says("STOP", to=to)

    def wait_for_message(self, matching: str | None = None, timeout: float = 10.0) -> Received:
        """The next message the agent sends this phone (after the last one this returned)
        whose text matches the regular expression ``matching``.

        Works whether the agent answers inside its webhook or later from a background
        task: it long-polls the server in short slices and, between them, lets a manual
        clock move on in small steps (so retried webhooks and delays play out), for at
        most ``timeout`` real seconds. Fails with the conversation so far.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            params: dict[str, Any] = {"timeout": round(max(0.0, min(POLL_SECONDS, remaining)), 3)}
            if self._cursor is not None:
                params["after"] = self._cursor
            if matching is not None:
                params["matching"] = matching
            body = _ok(
                self.sim.http.get(f"/sim/v1/devices/{self.handle}/next-message", params=params)
            )
            if body["message"] is not None:
                found = body["message"]
                self._cursor = found["message_id"]
                self.chat_id = found["chat_id"]
                self.sim.run_due()  # deliver it: the phone's screen shows it now
                return Received(
                    found["message_id"],
                    found["chat_id"],
                    body["text"] or "",
                    found["counterpart"],
                    found,
                )
            if remaining <= 0:
                wanted = f"matching {matching!r} " if matching else ""
                raise AssertionError(
                    f"{self.handle} got no message {wanted}from the agent in {timeout:g} s\n"
                    + self.transcript()
                )
            self.sim._step()

    def screen(self) -> list[dict[str, Any]]:
        """What the phone shows: messages it received and sent, oldest first."""
        return list(_ok(self.sim.http.get(f"/sim/v1/devices/{self.handle}/screen"))["messages"])

    def texts(self) -> list[str]:
        """The text of every message on its screen, oldest first."""
        return [_text(m) for m in self.screen()]

    def transcript(self) -> str:
        """The conversation as lines: ``→`` the person wrote, ``←`` the agent's line wrote."""
        lines = [f"Conversation of {self.handle}:"]
        try:
            messages = self.screen()
        except (HarnessError, httpx.HTTPError) as exc:
            return f"{lines[0]} (unavailable: {exc})"
        for m in messages:
            sent = m["direction"] == "sent"
            who = f"→ {self.handle}" if sent else f"← {m['counterpart']}"
            status = "" if sent else f"  [{m['delivery_status']}]"
            reactions = "".join(f" ({r['type']})" for r in m.get("reactions", []))
            lines.append(f"  {who}: {_text(m)}{reactions}{status}")
        if len(lines) == 1:
            lines.append("  (nothing yet)")
        return "\n".join(lines)


def _text(message: dict[str, Any]) -> str:
    texts = [str(p.get("value", "")) for p in message["parts"] if p.get("type") == "text"]
    others = [f"[{p.get('type')}]" for p in message["parts"] if p.get("type") != "text"]
    return " ".join(texts + others)
