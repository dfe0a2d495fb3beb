"""The simulator carrier: every recipient is a simulated device.

A send marks the message sent at once, then each device's behaviour (delivery,
read receipts, typing, replies, reactions) is scheduled as durable jobs on the
injected clock, so it survives restarts and runs instantly under a manual clock.
A scripted device (replies, rules, opt-out / unreachable after N messages) decides
its answer when a message is delivered; a device answered by a webhook or an
in-process hook is asked in a job of its own (``sim.ask``), never inside a request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from openlinq.delivery.carrier import Carrier, CarrierRejectedError, ChatAction, OutboundMessage
from openlinq.delivery.simulator.devices import DeviceProfile, Reply, resolve_profile
from openlinq.delivery.simulator.hooks import DeviceAnswer, DeviceHooks, DeviceMessage, call_hook
from openlinq.domain.delivery import DeliveryRecorder
from openlinq.domain.errors import ErrorCode
from openlinq.domain.ids import AccountId, ChatId, MessageId
from openlinq.domain.locations import LocationFeed, Position
from openlinq.domain.models import DeliveryStatus, Direction, Message, Service
from openlinq.jobs.runner import JobQueue, JobRunner
from openlinq.outbound import OutboundPolicy, pinned_request
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

TYPING_LEAD = 0.5
# How long one typing call shows on the recipient's screen (the platform says ~85-90 s).
TYPING_VISIBLE = 90.0
# A device with a location accepts a location request after this long.
LOCATION_ACCEPT_AFTER = 2.0
REACT_AFTER = 0.5
# What a device webhook is told of the conversation, and how much of its answer is read.
HISTORY_LENGTH = 20
MAX_ANSWER_BYTES = 64 * 1024
# A device with ``poll_vote`` votes on a poll it received (run by SimulatorControl).
POLL_VOTE_JOB = "sim.poll_vote"


class SimulatorCarrier(Carrier):
    name = "simulator"

    def __init__(
        self,
        storage: Storage,
        queue: JobQueue,
        recorder: DeliveryRecorder,
        locations: LocationFeed,
        policy: OutboundPolicy,
        *,
        webhook_deadline: float = 30.0,
    ) -> None:
        self.storage = storage
        self.queue = queue
        self.recorder = recorder
        self.locations = locations
        self.policy = policy
        self.webhook_deadline = webhook_deadline
        self.hooks = DeviceHooks()
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx  # only a device with a webhook hook needs it: not a server at rest

            self._http = httpx.AsyncClient(
                follow_redirects=False, headers={"user-agent": "openlinq-simulator/1"}
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def register_jobs(self, runner: JobRunner) -> None:
        runner.register("sim.deliver", self._deliver)
        runner.register("sim.read", self._read)
        runner.register("sim.typing", self._typing)
        runner.register("sim.reply", self._reply)
        runner.register("sim.react", self._react)
        runner.register("sim.share_location", self._share_location)
        runner.register("sim.ask", self._ask)

    async def profile(self, account_id: AccountId, handle: str) -> DeviceProfile:
        async with self.storage.read() as repos:
            return await _profile_in(repos, account_id, handle)

    async def capabilities(self, account_id: AccountId, handle: str) -> frozenset[Service]:
        return (await self.profile(account_id, handle)).services

    async def stored_capabilities(
        self, repos: Repos, account_id: AccountId, handles: Sequence[str]
    ) -> dict[str, frozenset[Service]]:
        return {h: (await _profile_in(repos, account_id, h)).services for h in handles}

    async def send(self, message: OutboundMessage) -> None:
        # The devices are read in the transaction that records the send: one transaction,
        # not one more per recipient (a refusal rolls it back before anything is written).
        async with self.storage.write() as repos:
            profiles = {
                h: await _profile_in(repos, message.account_id, h) for h in message.recipients
            }
            reachable = [h for h, p in profiles.items() if p.reachable]
            if not reachable:
                raise CarrierRejectedError(
                    ErrorCode.PHONE_NOT_AVAILABLE, "the recipient's phone is unreachable"
                )
            await self.recorder.sent(message.message_id, within=repos)
            for handle in reachable:
                await self.queue.schedule(
                    repos,
                    "sim.deliver",
                    self._payload(message, handle),
                    delay=profiles[handle].deliver_after,
                )

    async def perform(self, action: ChatAction) -> None:
        """Typing and shared contact cards change what devices show; a location request
        is answered by devices that have a location. Everything else a device shows
        (reactions, edits, names, members) is read from the chat itself."""
        if action.kind == "contact_card_shared":
            await self._remember(action, "contact_cards", action.from_number, action.data)
            return
        if action.kind == "location_requested":
            await self._answer_location_request(action)
            return
        if action.kind == "background_changed":
            await self._apply_background(action)
            return
        if action.kind not in ("typing_started", "typing_stopped"):
            return
        if action.service is not Service.IMESSAGE:
            return  # typing indicators exist on iMessage only
        now = self.recorder.clock.now()
        until = (now + timedelta(seconds=TYPING_VISIBLE)).isoformat()
        async with self.storage.write() as repos:
            for handle in action.recipients:
                stored = await repos.sim_devices.get(action.account_id, handle)
                override, state = stored if stored else ({}, {})
                typing = dict(state.get("typing", {}))
                if action.kind == "typing_started":
                    typing[action.chat_id] = until
                else:
                    typing.pop(action.chat_id, None)
                await repos.sim_devices.put(
                    action.account_id, handle, override, {**state, "typing": typing}, now
                )

    async def _clear_typing(
        self, repos: Any, account_id: AccountId, handle: str, chat_id: str
    ) -> None:
        """A message arriving replaces the sender's typing indicator, as on a phone."""
        stored = await repos.sim_devices.get(account_id, handle)
        if stored and chat_id in stored[1].get("typing", {}):
            override, state = stored
            typing = {k: v for k, v in state["typing"].items() if k != chat_id}
            await repos.sim_devices.put(
                account_id, handle, override, {**state, "typing": typing}, self.recorder.clock.now()
            )

    async def _remember(self, action: ChatAction, field: str, key: str, value: Any) -> None:
        """Keep ``value`` under ``state[field][key]`` on every recipient device."""
        now = self.recorder.clock.now()
        async with self.storage.write() as repos:
            for handle in action.recipients:
                stored = await repos.sim_devices.get(action.account_id, handle)
                override, state = stored if stored else ({}, {})
                entries = {**state.get(field, {}), key: value}
                await repos.sim_devices.put(
                    action.account_id, handle, override, {**state, field: entries}, now
                )

    async def _apply_background(self, action: ChatAction) -> None:
        """Applied on every device, unless one is set to fail it (``fail_background``)."""
        for handle in action.recipients:
            code = (await self.profile(action.account_id, handle)).fail_background
            if code is not None:
                await self.recorder.background_failed(action.account_id, action.chat_id, code)
                return
        await self.recorder.background_applied(
            action.account_id, action.chat_id, action.data["background"]
        )

    async def _answer_location_request(self, action: ChatAction) -> None:
        for handle in action.recipients:
            profile = await self.profile(action.account_id, handle)
            if profile.location is None:
                continue  # this contact never answers
            async with self.storage.write() as repos:
                await self.queue.schedule(
                    repos,
                    "sim.share_location",
                    {
                        "account_id": action.account_id,
                        "handle": handle,
                        "line": action.from_number,
                        "chat_id": action.chat_id,
                        "location": list(profile.location),
                    },
                    delay=LOCATION_ACCEPT_AFTER,
                )

    async def _share_location(self, job: dict[str, Any]) -> None:
        longitude, latitude = job["location"]
        await self.locations.device_shares(
            AccountId(job["account_id"]),
            job["line"],
            job["handle"],
            Position(longitude, latitude),
            chat_id=job["chat_id"],
            duration=None,
        )

    @staticmethod
    def _payload(message: OutboundMessage, handle: str) -> dict[str, Any]:
        return {
            "account_id": message.account_id,
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "handle": handle,
            "line": message.from_number,
            "service": message.service.value,
            "is_group": message.is_group,
            "text": _text_of(message.parts),
            "poll": message.is_poll,
        }

    async def _deliver(self, job: dict[str, Any]) -> None:
        account_id = AccountId(job["account_id"])
        service = Service(job["service"])
        async with self.storage.write() as repos:  # the receipt and what follows, together
            if service is not Service.SMS:  # SMS has no delivery or read receipts
                await self.recorder.delivered(MessageId(job["message_id"]), within=repos)
            stored = await repos.sim_devices.get(account_id, job["handle"])
            profile = resolve_profile(job["handle"], stored[0] if stored else None)
            if stored:
                await self._clear_typing(repos, account_id, job["handle"], job["chat_id"])
            after_read = 0.0
            if profile.read_after is not None and service is not Service.SMS:
                after_read = profile.read_after
                await self.queue.schedule(repos, "sim.read", job, delay=after_read)
            if job.get("poll"):
                # A poll is answered by voting (``poll_vote``), never by a reply or a tapback.
                if profile.poll_vote is not None:
                    await self.queue.schedule(
                        repos,
                        POLL_VOTE_JOB,
                        {**job, "option": profile.poll_vote},
                        delay=after_read + profile.poll_vote_after,
                    )
                return
            if profile.react:
                await self.queue.schedule(
                    repos, "sim.react", {**job, "reaction": profile.react}, delay=REACT_AFTER
                )
            scripted = profile.scripted or self.hooks.get(account_id, job["handle"]) is not None
            if scripted and await self._follow_script(repos, account_id, job, profile, after_read):
                return
            reply = await self._reply_text(repos, account_id, job, profile)
            if reply is None:
                return
            await self._answer(repos, job, DeviceAnswer(reply), profile, after=after_read)

    async def _follow_script(
        self,
        repos: Repos,
        account_id: AccountId,
        job: dict[str, Any],
        profile: DeviceProfile,
        after_read: float,
    ) -> bool:
        """Count the message and answer it as the script says; False: no script answered
        (the device's plain ``reply`` behaviour applies)."""
        stored = await repos.sim_devices.get(account_id, job["handle"])
        override, state = stored if stored else ({}, {})
        script = dict(state.get("script", {}))
        received = int(script.get("received", 0)) + 1
        script["received"] = received
        if profile.unreachable_after is not None and received >= profile.unreachable_after:
            script["unreachable"] = True
        answer: DeviceAnswer | None = None
        handled = True
        if profile.opt_out_after is not None and received >= profile.opt_out_after:
            # The person opts out once, then says nothing more.
            answer = DeviceAnswer("STOP") if received == profile.opt_out_after else None
        elif self.hooks.get(account_id, job["handle"]) or profile.webhook_url:
            # Asked once the person has read it, in a job: never inside anyone's request.
            await self.queue.schedule(repos, "sim.ask", job, delay=after_read)
        else:
            answer = _rule_answer(profile, job["text"])
            if answer is None and profile.replies:
                index = int(script.get("replied", 0))
                if index < len(profile.replies) or profile.replies_loop:
                    answer = DeviceAnswer(profile.replies[index % len(profile.replies)])
                    script["replied"] = index + 1
            handled = answer is not None
        await repos.sim_devices.put(
            account_id,
            job["handle"],
            override,
            {**state, "script": script},
            self.recorder.clock.now(),
        )
        if answer is not None:
            await self._answer(repos, job, answer, profile, after=after_read)
        return handled

    async def _answer(
        self,
        repos: Repos,
        job: dict[str, Any],
        answer: DeviceAnswer,
        profile: DeviceProfile,
        *,
        after: float,
    ) -> None:
        """Schedule the device's reaction and reply, ``after`` seconds from now and on."""
        if answer.react:
            await self.queue.schedule(
                repos, "sim.react", {**job, "reaction": answer.react}, delay=after + REACT_AFTER
            )
        if answer.reply is None:
            return
        delay = profile.reply_after if answer.delay_seconds is None else answer.delay_seconds
        typing = profile.typing if answer.typing is None else answer.typing
        if typing and job["service"] == Service.IMESSAGE.value:
            await self.queue.schedule(
                repos,
                "sim.typing",
                {**job, "started": True},
                delay=after + min(TYPING_LEAD, delay),
            )
        await self.queue.schedule(
            repos,
            "sim.reply",
            {**job, "reply": answer.reply, "typing": typing},
            delay=after + delay,
        )

    async def _ask(self, job: dict[str, Any]) -> None:
        """Ask the device's hook or webhook what the person answers. A failure is logged and
        the person stays silent: it never fails the job or breaks the device."""
        account_id = AccountId(job["account_id"])
        handle = job["handle"]
        profile = await self.profile(account_id, handle)
        hook = self.hooks.get(account_id, handle)
        if hook is None and profile.webhook_url is None:
            return  # reconfigured since
        message = await self._device_message(job)
        try:
            if hook is not None:
                answer = await call_hook(hook, message)
            else:
                answer = await self._post(str(profile.webhook_url), message)
        except Exception as exc:  # the person's code or endpoint, not ours: log and go on
            log.warning(
                "simulated device %s: its %s failed: %s",
                handle,
                "hook" if hook is not None else f"webhook {profile.webhook_url}",
                exc or type(exc).__name__,
            )
            return
        if answer is not None:
            async with self.storage.write() as repos:
                await self._answer(repos, job, answer, profile, after=0.0)

    async def _post(self, webhook_url: str, message: DeviceMessage) -> DeviceAnswer | None:
        """POST the message under the outbound policy and the fetch deadline; parse the answer."""
        async with asyncio.timeout(self.webhook_deadline):
            target = await self.policy.resolve(webhook_url)
            url, pin_headers, extensions = pinned_request(target)
            async with self.http.stream(
                "POST",
                url,
                json=message.to_json(),
                headers=pin_headers,
                extensions=extensions,
                timeout=self.webhook_deadline,
            ) as response:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise ValueError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        if not response.is_success:
            raise ValueError(f"HTTP {response.status_code}")
        if not body.strip():
            return None
        try:
            return DeviceAnswer.parse(json.loads(body))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"unusable answer: {exc}") from exc

    async def _device_message(self, job: dict[str, Any]) -> DeviceMessage:
        account_id = AccountId(job["account_id"])
        async with self.storage.read() as repos:
            message = await repos.messages.get(account_id, MessageId(job["message_id"]))
            recent = await repos.messages.to_handle(
                account_id, [ChatId(job["chat_id"])], HISTORY_LENGTH
            )
        history = [
            {
                "direction": "sent" if m.direction is Direction.INBOUND else "received",
                "text": _text_of(m.parts),
                "at": m.created_at.isoformat(),
            }
            for m in recent
            if (m.direction is Direction.INBOUND and m.sender_handle == job["handle"])
            or (m.direction is Direction.OUTBOUND and reached_device(m))
        ]
        return DeviceMessage(
            account_id=account_id,
            handle=job["handle"],
            line=job["line"],
            chat_id=job["chat_id"],
            message_id=job["message_id"],
            service=job["service"],
            is_group=bool(job.get("is_group")),
            text=job["text"],
            parts=list(message.parts) if message else [],
            history=history,
        )

    async def _reply_text(
        self, repos: Any, account_id: AccountId, job: dict[str, Any], profile: DeviceProfile
    ) -> str | None:
        if profile.reply is Reply.ECHO:
            return f"echo: {job['text']}" if job["text"] else "echo: (attachment)"
        if profile.reply is Reply.STOP_FIRST:
            stored = await repos.sim_devices.get(account_id, job["handle"])
            override, state = stored if stored else ({}, {})
            if state.get("stopped"):
                return None
            await repos.sim_devices.put(
                account_id,
                job["handle"],
                override,
                {**state, "stopped": True},
                self.recorder.clock.now(),
            )
            return "STOP"
        return None

    async def _read(self, job: dict[str, Any]) -> None:
        await self.recorder.read(MessageId(job["message_id"]))

    async def _typing(self, job: dict[str, Any]) -> None:
        await self.recorder.inbound_typing(
            AccountId(job["account_id"]), ChatId(job["chat_id"]), job["handle"], job["started"]
        )

    async def _reply(self, job: dict[str, Any]) -> None:
        account_id = AccountId(job["account_id"])
        if job.get("typing") and job["service"] == Service.IMESSAGE.value:
            await self.recorder.inbound_typing(
                account_id, ChatId(job["chat_id"]), job["handle"], started=False
            )
        await self.recorder.inbound_message(
            account_id,
            job["line"],
            job["handle"],
            [{"type": "text", "value": job["reply"]}],
            Service(job["service"]),
            chat_id=ChatId(job["chat_id"]),
        )

    async def _react(self, job: dict[str, Any]) -> None:
        await self.recorder.inbound_reaction(
            AccountId(job["account_id"]),
            MessageId(job["message_id"]),
            job["handle"],
            job["reaction"],
        )


async def _profile_in(repos: Repos, account_id: AccountId, handle: str) -> DeviceProfile:
    """The device ``handle`` is, with the account's overrides, read in ``repos``' transaction
    (unreachable once its ``unreachable_after`` messages were received)."""
    stored = await repos.sim_devices.get(account_id, handle)
    profile = resolve_profile(handle, stored[0] if stored else None)
    if stored and stored[1].get("script", {}).get("unreachable"):
        return replace(profile, reachable=False)
    return profile


def _text_of(parts: Any) -> str:
    return " ".join(str(p["value"]) for p in parts if p.get("type") in ("text", "link"))


def _rule_answer(profile: DeviceProfile, text: str) -> DeviceAnswer | None:
    """The first rule matching ``text``, as an answer."""
    for rule in profile.rules:
        reply = rule.answer(text)
        if reply is not None:
            return DeviceAnswer(reply or None, rule.delay_seconds, rule.react, rule.typing)
    return None


def reached_device(message: Message) -> bool:
    """Whether an outbound message shows on the recipient's phone."""
    if message.delivered_at is not None:
        return True
    return message.service is Service.SMS and message.delivery_status is DeliveryStatus.SENT
