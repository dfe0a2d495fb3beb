"""Device hooks: code (or another model) that answers for a simulated person.

A device with a ``webhook_url`` POSTs each message it receives (``DeviceMessage``
as JSON) to that URL and answers with what comes back (``DeviceAnswer``). In the
same process a Python callable can stand in for the URL: register it for an
account's handle with ``DeviceHooks.register`` (``SimulatorControl.hooks``). A
registered callable wins over the device's ``webhook_url``; it lives only as long
as the process (it is not stored), which is what an in-process test harness wants.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from openlinq.delivery.simulator.devices import TAPBACKS

MAX_REPLY_LENGTH = 10_000
MAX_DELAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class DeviceMessage:
    """A message the device received, with the conversation so far (oldest first)."""

    account_id: str
    handle: str  # the device
    line: str  # the line that wrote to it
    chat_id: str
    message_id: str
    service: str
    is_group: bool
    text: str
    parts: list[dict[str, Any]]
    # ``{"direction": "received" | "sent", "text": ..., "at": ISO time}``, this message last.
    history: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("line")  # the sender, as the person sees it
        data.pop("account_id")
        return data


@dataclass(frozen=True, slots=True)
class DeviceAnswer:
    reply: str | None = None
    delay_seconds: float | None = None  # after the message arrived; the device's reply_after
    react: str | None = None  # a tapback on the received message
    typing: bool | None = None  # show typing before the reply; the device's setting

    @classmethod
    def parse(cls, raw: Any) -> DeviceAnswer | None:
        """An answer from a hook's JSON (``None`` or ``{}``: stay silent); ``ValueError`` if bad."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise ValueError("the answer must be a JSON object")
        unknown = set(raw) - {"reply", "delay_seconds", "react", "typing"}
        if unknown:
            raise ValueError(f"unknown answer fields: {sorted(unknown)}")
        answer = cls(**raw)
        answer.check()
        return answer

    def check(self) -> None:
        if self.reply is not None and (
            not isinstance(self.reply, str) or not 0 < len(self.reply) <= MAX_REPLY_LENGTH
        ):
            raise ValueError(f"reply must be text of 1 to {MAX_REPLY_LENGTH} characters")
        if self.delay_seconds is not None and (
            isinstance(self.delay_seconds, bool)
            or not isinstance(self.delay_seconds, int | float)
            or not 0 <= self.delay_seconds <= MAX_DELAY_SECONDS
        ):
            raise ValueError(f"delay_seconds must be a number from 0 to {MAX_DELAY_SECONDS:g}")
        if self.react is not None and self.react not in TAPBACKS:
            raise ValueError(f"react must be one of {', '.join(TAPBACKS)}")
        if self.typing is not None and not isinstance(self.typing, bool):
            raise ValueError("typing must be true or false")


# A hook may be sync or async; a sync one runs in a worker thread, so it may block
# (call the server over HTTP, say) without stalling the server's event loop.
DeviceHook = Callable[[DeviceMessage], "Awaitable[DeviceAnswer | None] | DeviceAnswer | None"]


class DeviceHooks:
    """In-process hooks, keyed by (account id, handle)."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[str, str], DeviceHook] = {}

    def register(self, account_id: str, handle: str, hook: DeviceHook) -> None:
        self._hooks[(account_id, handle)] = hook

    def unregister(self, account_id: str, handle: str) -> None:
        self._hooks.pop((account_id, handle), None)

    def get(self, account_id: str, handle: str) -> DeviceHook | None:
        return self._hooks.get((account_id, handle))


async def call_hook(hook: DeviceHook, message: DeviceMessage) -> DeviceAnswer | None:
    if inspect.iscoroutinefunction(hook):
        result = await hook(message)
    else:
        result = await asyncio.to_thread(hook, message)
        if inspect.isawaitable(result):
            result = await result
    if result is not None and not isinstance(result, DeviceAnswer):
        raise ValueError(f"a device hook returned {type(result).__name__}, not DeviceAnswer")
    if result is not None:
        result.check()
    return result
