"""The simulator control surface: configure devices, act as them, read their screens."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from openlinq.delivery.simulator.carrier import POLL_VOTE_JOB, SimulatorCarrier, reached_device
from openlinq.delivery.simulator.devices import PRESETS, DeviceProfile, resolve_profile
from openlinq.delivery.simulator.harness import PERIODIC_JOBS
from openlinq.delivery.simulator.hooks import DeviceHook
from openlinq.domain.attachments import AttachmentService
from openlinq.domain.chats import chat_and_line
from openlinq.domain.clock import Clock, ManualClock
from openlinq.domain.delivery import DeliveryRecorder
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.groups import GroupService
from openlinq.domain.handles import parse_handle, parse_phone
from openlinq.domain.ids import ChatId, MessageId
from openlinq.domain.locations import LocationFeed, Position
from openlinq.domain.models import Account, Direction, Message, Poll, Service
from openlinq.domain.parts import MessageContent
from openlinq.domain.polls import PollService, poll_in_chat
from openlinq.domain.routing import best_service
from openlinq.domain.views import placement_view
from openlinq.jobs.runner import JobRunner
from openlinq.logs import redact_url
from openlinq.store.repos.attachments import Attachment
from openlinq.store.repos.blocked import DroppedInbound
from openlinq.store.repos.events import StoredEvent
from openlinq.store.unit import Storage

PROFILE_FIELDS = {f.name for f in fields(DeviceProfile)} - {"name"}

# One line per action taken on the simulator itself; what the devices do in the chats is
# logged as delivery traffic (domain/activity.py).
log = logging.getLogger("openlinq.simulator")


@dataclass(frozen=True, slots=True)
class ScreenItem:
    message: Message
    direction: str  # "received" by the device, or "sent" by it
    reactions: list[dict[str, Any]]
    edits: list[dict[str, Any]]
    # A poll's options as this phone sees them: text, votes, whether it voted for each.
    poll: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class PhoneSummary:
    handle: str
    profile: DeviceProfile
    override: dict[str, Any]  # what was configured for the account ({} = the built-in device)
    opted_out: bool


class SimulatorControl:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        carrier: SimulatorCarrier,
        recorder: DeliveryRecorder,
        runner: JobRunner,
        locations: LocationFeed,
        attachments: AttachmentService,
        groups: GroupService,
        polls: PollService,
    ) -> None:
        self.groups = groups
        self.polls = polls
        self.locations = locations
        self.attachments = attachments
        self.storage = storage
        self.clock = clock
        self.carrier = carrier
        self.recorder = recorder
        self.runner = runner

    async def device(self, account: Account, raw_handle: str) -> tuple[str, DeviceProfile, bool]:
        handle = parse_handle(raw_handle).value
        async with self.storage.read() as repos:
            stored = await repos.sim_devices.get(account.id, handle)
        profile = await self.carrier.profile(account.id, handle)
        return handle, profile, bool(stored and stored[0])

    async def configure(
        self, account: Account, raw_handle: str, settings: dict[str, Any], *, merge: bool = False
    ) -> tuple[str, DeviceProfile, bool]:
        """Set the device (``merge``: change only the given fields; ``None`` removes one).

        Setting a device anew starts its script over (counts, the next scripted reply); a
        change of ``reachable`` also ends "unreachable after N messages"."""
        handle = parse_handle(raw_handle).value
        preset = settings.get("preset")
        if preset is not None and preset not in PRESETS:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER,
                f"unknown preset {preset!r}; choose from {', '.join(sorted(PRESETS))}",
            )
        unknown = set(settings) - PROFILE_FIELDS - {"preset"}
        if unknown:
            raise LinqError(
                ErrorCode.INVALID_PARAMETER, f"unknown device fields: {sorted(unknown)}"
            )
        if settings.get("webhook_url") is not None:
            await self.carrier.policy.check_target(settings["webhook_url"], "webhook_url")
        async with self.storage.read() as repos:
            stored = await repos.sim_devices.get(account.id, handle)
        override = dict(stored[0]) if stored and merge else {}
        override.update(settings)
        override = {k: v for k, v in override.items() if v is not None}
        try:
            resolve_profile(handle, override)  # checked before anything is stored
        except (ValueError, TypeError) as exc:
            raise LinqError(ErrorCode.INVALID_PARAMETER, f"invalid device settings: {exc}") from exc
        async with self.storage.write() as repos:
            stored = await repos.sim_devices.get(account.id, handle)
            state = dict(stored[1]) if stored else {}
            if not merge:
                state.pop("script", None)
            elif "reachable" in settings and "script" in state:
                state["script"] = {k: v for k, v in state["script"].items() if k != "unreachable"}
            await repos.sim_devices.put(account.id, handle, override, state, self.clock.now())
        settings_shown = " ".join(
            f"{k}={redact_url(v) if isinstance(v, str) and '://' in v else v}"
            for k, v in sorted(override.items())
        )
        log.info(
            "device %s set: %s",
            handle,
            settings_shown or "built-in behaviour",
            extra={"handle": handle},
        )
        return handle, await self.carrier.profile(account.id, handle), bool(override)

    def register_hook(self, account_id: str, raw_handle: str, hook: DeviceHook | None) -> str:
        """In-process: ``hook`` answers for the account's device (``None`` removes it), before
        any ``webhook_url``. Not stored: it lasts as long as the process. See ``hooks``."""
        handle = parse_handle(raw_handle).value
        if hook is None:
            self.carrier.hooks.unregister(account_id, handle)
        else:
            self.carrier.hooks.register(account_id, handle, hook)
        return handle

    async def phones(self, account: Account, after: str | None, limit: int) -> list[PhoneSummary]:
        """One page of the devices the account has touched: configured ones and every
        handle in its chats, in handle order after ``after``."""
        async with self.storage.read() as repos:
            handles = await repos.sim_devices.known_handles(account.id, after, limit)
        return await self.summaries(account, handles)

    async def summaries(self, account: Account, raw_handles: list[str]) -> list[PhoneSummary]:
        handles = [parse_handle(h).value for h in raw_handles]
        async with self.storage.read() as repos:
            stored = await repos.sim_devices.get_many(account.id, handles)
            opted_out = set(await repos.opt_outs.opted_out(account.id, handles))
        summaries = []
        for handle in handles:
            override = stored[handle][0] if handle in stored else {}
            summaries.append(
                PhoneSummary(
                    handle, resolve_profile(handle, override), override, handle in opted_out
                )
            )
        return summaries

    async def reset(self, account: Account, raw_handle: str) -> None:
        handle = parse_handle(raw_handle).value
        async with self.storage.write() as repos:
            await repos.sim_devices.delete(account.id, handle)
        log.info("device %s reset", handle, extra={"handle": handle})

    async def send_message(
        self,
        account: Account,
        raw_handle: str,
        *,
        to: str | None,
        chat_id: str | None,
        content: MessageContent,
        reply_to: str | None,
    ) -> Message | None:
        """The device writes to one of the account's lines (or into a chat it is in); None
        when the account blocked it (the message is dropped)."""
        handle = parse_handle(raw_handle).value
        profile = await self.carrier.profile(account.id, handle)
        async with self.storage.read() as repos:
            if chat_id is not None:
                chat, line = await chat_and_line(repos, account, chat_id)
                service = chat.service
            elif to is not None:
                number = parse_phone(to, "to")
                found = await repos.lines.by_number(account.id, number)
                if found is None:
                    raise LinqError(ErrorCode.PHONE_NUMBER_DENIED, f"{number} is not your line")
                line, service = found, best_service(profile.services, found.services)
            else:
                raise LinqError(ErrorCode.MISSING_REQUIRED_FIELD, "give to (a line) or chat_id")
        # The phone's photos and files arrive stored, as a gateway would hand them over: an
        # attachment of the account by id, or the file at a URL, fetched and checked.
        content = await self.attachments.resolve_media(account, content)
        return await self.recorder.inbound_message(
            account.id,
            line.phone_number,
            handle,
            list(content.parts),
            service,
            chat_id=ChatId(chat_id) if chat_id else None,
            reply_to=MessageId(reply_to) if reply_to else None,
        )

    async def react(
        self,
        account: Account,
        raw_handle: str,
        message_id: str,
        reaction: str,
        custom_emoji: str | None,
        part_index: int,
        *,
        remove: bool = False,
        emoji: str | None = None,
    ) -> None:
        """A tapback, or (``reaction`` "sticker") an ``emoji`` peeled onto the message."""
        handle = parse_handle(raw_handle).value
        await self._require_participant(account, handle, message_id)
        if (reaction == "sticker") != (emoji is not None):
            raise LinqError(ErrorCode.INVALID_PARAMETER, "emoji goes with type sticker, and only")
        await self.recorder.inbound_reaction(
            account.id,
            MessageId(message_id),
            handle,
            reaction,
            custom_emoji,
            part_index,
            remove=remove,
            sticker={"emoji": emoji} if emoji is not None else None,
        )

    # -- polls ------------------------------------------------------------------------

    async def create_poll(
        self, account: Account, raw_handle: str, chat_id: str, options: list[str]
    ) -> Message | None:
        """The device creates a poll in a chat it is in (iMessage chats only); None when the
        account blocked the device (dropped, as its messages are)."""
        handle = parse_handle(raw_handle).value
        async with self.storage.read() as repos:
            chat, line = await chat_and_line(repos, account, chat_id)
        if not any(h.handle == handle for h in chat.recipients):
            raise LinqError(ErrorCode.ACCESS_DENIED, f"{handle} is not in chat {chat_id}")
        profile = await self.carrier.profile(account.id, handle)
        if Service.IMESSAGE not in profile.services or Service.IMESSAGE not in line.services:
            raise LinqError(ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "polls are iMessage only")
        return await self.recorder.inbound_message(
            account.id,
            line.phone_number,
            handle,
            [],
            Service.IMESSAGE,
            chat_id=chat.id,
            poll_options=options,
        )

    async def vote(
        self, account: Account, raw_handle: str, message_id: str, option_id: str, *, remove: bool
    ) -> None:
        handle = parse_handle(raw_handle).value
        await self.polls.inbound_vote(
            account.id, MessageId(message_id), handle, option_id, remove=remove
        )

    async def add_poll_options(
        self, account: Account, raw_handle: str, message_id: str, options: list[str]
    ) -> None:
        handle = parse_handle(raw_handle).value
        await self.polls.inbound_options(account.id, MessageId(message_id), handle, options)

    def register_jobs(self, runner: JobRunner) -> None:
        runner.register(POLL_VOTE_JOB, self._auto_vote)

    async def _auto_vote(self, job: dict[str, Any]) -> None:
        """A device set to ``poll_vote`` N votes for the poll's Nth option, if it has one."""
        try:
            async with self.storage.read() as repos:
                account = await repos.accounts.get(job["account_id"])
                assert account is not None, "a device's account exists"
                poll, _, _ = await poll_in_chat(repos, account, job["message_id"])
            if job["option"] > len(poll.options):
                log.info("device %s: the poll has no option %d", job["handle"], job["option"])
                return
            option = poll.options[job["option"] - 1]
            await self.polls.inbound_vote(account.id, poll.message.id, job["handle"], option.id)
        except LinqError as refused:  # deleted, failed, or the device left since: no vote
            log.info("device %s did not vote: %s", job["handle"], refused.message)

    async def read(self, account: Account, raw_handle: str, chat_id: str) -> int:
        handle = parse_handle(raw_handle).value
        async with self.storage.read() as repos:
            chat, _ = await chat_and_line(repos, account, chat_id)
        if not any(h.handle == handle for h in chat.recipients):
            raise LinqError(ErrorCode.ACCESS_DENIED, f"{handle} is not in chat {chat_id}")
        return await self.recorder.inbound_read(account.id, chat.id)

    async def set_background(
        self, account: Account, raw_handle: str, chat_id: str, background: dict[str, Any] | None
    ) -> None:
        """The device changes the chat's background (None: back to the default), as a
        participant can on iMessage: chat.background_updated names it as the actor."""
        handle = parse_handle(raw_handle).value
        async with self.storage.read() as repos:
            chat, _ = await chat_and_line(repos, account, chat_id)
            blocked = await repos.blocked.blocked(account.id, [handle])
        if not any(h.handle == handle for h in chat.recipients):
            raise LinqError(ErrorCode.ACCESS_DENIED, f"{handle} is not in chat {chat_id}")
        if chat.service is not Service.IMESSAGE:
            raise LinqError(ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "backgrounds are iMessage only")
        if blocked:
            return  # dropped, as everything a blocked handle does
        await self.recorder.background_applied(account.id, chat.id, background, actor=handle)

    async def typing(self, account: Account, raw_handle: str, chat_id: str, started: bool) -> None:
        handle = parse_handle(raw_handle).value
        async with self.storage.read() as repos:
            chat, _ = await chat_and_line(repos, account, chat_id)
        if not any(h.handle == handle for h in chat.recipients):
            raise LinqError(ErrorCode.ACCESS_DENIED, f"{handle} is not in chat {chat_id}")
        await self.recorder.inbound_typing(account.id, chat.id, handle, started)

    async def store_file(
        self, account: Account, filename: str, content_type: str | None, body: AsyncIterator[bytes]
    ) -> Attachment:
        """A file from the phone's storage, kept as an attachment its message can carry."""
        return await self.attachments.receive(account, filename, content_type, body)

    async def leave_group(self, account: Account, raw_handle: str, chat_id: str) -> None:
        """The device leaves a group chat, as its owner would on the phone."""
        await self.groups.member_left(account, chat_id, raw_handle)

    async def _require_participant(self, account: Account, handle: str, message_id: str) -> None:
        async with self.storage.read() as repos:
            message = await repos.messages.get(account.id, MessageId(message_id))
            if message is None:
                raise LinqError(ErrorCode.MESSAGE_NOT_FOUND)
            chat, _ = await chat_and_line(repos, account, message.chat_id)
        if not any(h.handle == handle for h in chat.recipients):
            raise LinqError(ErrorCode.ACCESS_DENIED, f"{handle} is not in that message's chat")

    async def screen(
        self, account: Account, raw_handle: str, last: int | None = None
    ) -> tuple[str, list[ScreenItem]]:
        """What the device shows: messages that reached it and messages it sent, oldest
        first; with ``last``, taken from that many of the chats' newest messages."""
        handle = parse_handle(raw_handle).value
        async with self.storage.read() as repos:
            chat_ids = await repos.chats.ids_with_participant(account.id, handle)
            messages = await repos.messages.to_handle(account.id, chat_ids, last)
            reactions = await repos.messages.reactions_for([m.id for m in messages])
            edits = await repos.messages.edits([m.id for m in messages])
            polls = {m.id: await repos.polls.of(m) for m in messages if m.is_poll}
        items: list[ScreenItem] = []
        for message in messages:
            if message.direction is Direction.INBOUND:
                if message.sender_handle != handle:
                    continue  # another member's message in a group: not modelled per device
                direction = "sent"
            elif reached_device(message):
                direction = "received"
            else:
                continue
            items.append(
                ScreenItem(
                    message,
                    direction,
                    [
                        {
                            "handle": r.handle,
                            "type": r.type,
                            "custom_emoji": r.custom_emoji,
                            "part_index": r.part_index,
                            "is_me": r.handle == handle,
                            "placement": placement_view(r),
                        }
                        for r in reactions.get(message.id, [])
                    ],
                    [
                        {
                            "part_index": e.part_index,
                            "previous_text": e.previous_text,
                            "text": e.text,
                            "edited_at": e.edited_at,
                        }
                        for e in edits.get(message.id, [])
                    ],
                    poll=_poll_screen(polls.get(message.id), handle),
                )
            )
        return handle, items

    async def _line_for(
        self, account: Account, to: str | None, chat_id: str | None
    ) -> tuple[str, str | None]:
        """The line a device talks to: given directly, or as the line of one of its chats."""
        if chat_id is not None:
            async with self.storage.read() as repos:
                _, line = await chat_and_line(repos, account, chat_id)
            return line.phone_number, chat_id
        if to is None:
            raise LinqError(ErrorCode.MISSING_REQUIRED_FIELD, "give to (a line) or chat_id")
        return parse_phone(to, "to"), None

    async def share_location(
        self,
        account: Account,
        raw_handle: str,
        position: Position,
        *,
        to: str | None,
        chat_id: str | None,
        duration: timedelta | None,
    ) -> None:
        handle = parse_handle(raw_handle).value
        line, chat = await self._line_for(account, to, chat_id)
        await self.locations.device_shares(
            account.id, line, handle, position, chat_id=chat, duration=duration
        )

    async def stop_location(
        self, account: Account, raw_handle: str, *, to: str | None, chat_id: str | None
    ) -> bool:
        handle = parse_handle(raw_handle).value
        line, _ = await self._line_for(account, to, chat_id)
        return await self.locations.device_stops(account.id, line, handle)

    async def device_state(self, account: Account, raw_handle: str) -> dict[str, Any]:
        """What the device shows besides messages: typing chats, received contact cards."""
        handle = parse_handle(raw_handle).value
        async with self.storage.read() as repos:
            stored = await repos.sim_devices.get(account.id, handle)
        state = stored[1] if stored else {}
        now = self.clock.now().isoformat()
        typing = [chat for chat, until in state.get("typing", {}).items() if until > now]
        return {"typing_in": typing, "contact_cards": list(state.get("contact_cards", {}).values())}

    async def advance_clock(self, seconds: float) -> int:
        """Move the manual clock forward and run everything that became due."""
        if not isinstance(self.clock, ManualClock):
            raise LinqError(
                ErrorCode.STATE_CONFLICT,
                "the clock is real; start the server with OPENLINQ_CLOCK=manual to drive it",
            )
        until = self.clock.now() + timedelta(seconds=seconds)
        ran = await self.runner.run_through(self.clock, until, step_over=PERIODIC_JOBS)
        log.info(
            "clock advanced %gs to %s, %d jobs ran",
            seconds,
            self.clock.now().isoformat(timespec="seconds"),
            ran,
            extra={"seconds": seconds, "jobs": ran},
        )
        return ran

    async def run_due(self) -> int:
        ran = await self.runner.run_due()
        log.info("ran %d due jobs", ran, extra={"jobs": ran})
        return ran

    async def dropped(self, account: Account, limit: int) -> list[DroppedInbound]:
        """What blocked handles sent that was dropped, newest first."""
        async with self.storage.read() as repos:
            return await repos.blocked.dropped(account.id, limit)

    async def recent_events(self, account: Account, limit: int) -> list[StoredEvent]:
        async with self.storage.read() as repos:
            return await repos.events.recent(account.id, limit)


def _poll_screen(poll: Poll | None, handle: str) -> list[dict[str, Any]] | None:
    """A poll's options as ``handle``'s screen shows them."""
    if poll is None:
        return None
    return [
        {
            "option_id": option.id,
            "text": option.text,
            "votes": sum(v.option_id == option.id for v in poll.votes),
            "voted": any(v.option_id == option.id and v.handle == handle for v in poll.votes),
        }
        for option in poll.options
    ]
