"""The simulator carrier: every recipient is a simulated device.

A send marks the message sent at once, then each device's behaviour (delivery,
read receipts, typing, replies, reactions) is scheduled as durable jobs on the
injected clock, so it survives restarts and runs instantly under a manual clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from openlinq.delivery.carrier import Carrier, CarrierRejectedError, ChatAction, OutboundMessage
from openlinq.delivery.simulator.devices import DeviceProfile, Reply, resolve_profile
from openlinq.domain.delivery import DeliveryRecorder
from openlinq.domain.errors import ErrorCode
from openlinq.domain.ids import AccountId, ChatId, MessageId
from openlinq.domain.locations import LocationFeed, Position
from openlinq.domain.models import Service
from openlinq.jobs.runner import JobQueue, JobRunner
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

TYPING_LEAD = 0.5
# How long one typing call shows on the recipient's screen (the platform says ~85-90 s).
TYPING_VISIBLE = 90.0
# A device with a location accepts a location request after this long.
LOCATION_ACCEPT_AFTER = 2.0
REACT_AFTER = 0.5


class SimulatorCarrier(Carrier):
    name = "simulator"

    def __init__(
        self,
        storage: Storage,
        queue: JobQueue,
        recorder: DeliveryRecorder,
        locations: LocationFeed,
    ) -> None:
        self.storage = storage
        self.queue = queue
        self.recorder = recorder
        self.locations = locations

    def register_jobs(self, runner: JobRunner) -> None:
        runner.register("sim.deliver", self._deliver)
        runner.register("sim.read", self._read)
        runner.register("sim.typing", self._typing)
        runner.register("sim.reply", self._reply)
        runner.register("sim.react", self._react)
        runner.register("sim.share_location", self._share_location)

    async def profile(self, account_id: AccountId, handle: str) -> DeviceProfile:
        async with self.storage.read() as repos:
            return await _profile_in(repos, account_id, handle)

    async def capabilities(self, account_id: AccountId, handle: str) -> frozenset[Service]:
        return (await self.profile(account_id, handle)).services

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
            "text": " ".join(p["value"] for p in message.parts if p["type"] in ("text", "link")),
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
            if profile.react:
                await self.queue.schedule(
                    repos, "sim.react", {**job, "reaction": profile.react}, delay=REACT_AFTER
                )
            reply = await self._reply_text(repos, account_id, job, profile)
            if reply is None:
                return
            if profile.typing and service is Service.IMESSAGE:
                await self.queue.schedule(
                    repos, "sim.typing", {**job, "started": True}, delay=after_read + TYPING_LEAD
                )
            await self.queue.schedule(
                repos,
                "sim.reply",
                {**job, "reply": reply, "typing": profile.typing},
                delay=after_read + profile.reply_after,
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
    """The device ``handle`` is, with the account's overrides, read in ``repos``' transaction."""
    stored = await repos.sim_devices.get(account_id, handle)
    return resolve_profile(handle, stored[0] if stored else None)
