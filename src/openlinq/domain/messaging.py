"""Sending: the three send endpoints, line selection, and the carrier send job.

Every send follows one path: resolve the chat (new or reused), check the
content against the chat, pick the service, then in ONE transaction write the
message as ``queued`` with the job that will hand it to the carrier. The
response never waits for a carrier.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from openlinq.delivery.carrier import Carrier, CarrierRejectedError, OutboundMessage
from openlinq.domain import health
from openlinq.domain.app_cards import check_card_service, requires_imessage
from openlinq.domain.attachments import AttachmentService
from openlinq.domain.blocking import refuse_blocked
from openlinq.domain.chats import (
    chat_and_line,
    check_account_line,
    open_chat,
    require_usable,
)
from openlinq.domain.clock import Clock
from openlinq.domain.delivery import DeliveryRecorder
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.experiences import bind_parts
from openlinq.domain.handles import Handle, parse_phone, parse_recipients, recipient_key
from openlinq.domain.ids import AccountId, MessageId, new_id
from openlinq.domain.limits import take_send_limits
from openlinq.domain.lines import LineReach, parse_exclusions, pick_line
from openlinq.domain.models import (
    Account,
    Chat,
    DeliveryStatus,
    Direction,
    HandleStatus,
    Line,
    Message,
    Service,
)
from openlinq.domain.optout import refuse_opted_out
from openlinq.domain.parts import MessageContent
from openlinq.domain.poll_options import new_options
from openlinq.domain.retention import expiry
from openlinq.domain.routing import Selection, reach, select_service
from openlinq.jobs.runner import JobQueue
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage

SEND_JOB = "carrier.send"
MAX_GROUP_RECIPIENTS = 31
# Chats whose recipients this process remembers from an earlier send (oldest forgotten first).
KNOWN_RECIPIENTS = 10_000
# Looking capabilities up again because the recipients changed meanwhile; after this many
# rounds (members changing non-stop) the send goes ahead with the capabilities it has.
RECIPIENT_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class SendResult:
    chat: Chat
    line: Line
    message: Message
    created_chat: bool
    reason: str = "reused_active_chat"
    previous_chat_id: str | None = None


def request_fingerprint(body: dict[str, Any]) -> str:
    """Identifies a request body, so a reused idempotency key with new content is caught."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class _RecipientsChangedError(Exception):
    """The chat has recipients whose capabilities were not looked up; roll back and retry."""

    def __init__(self, recipients: tuple[str, ...], from_number: str) -> None:
        super().__init__()
        self.recipients = recipients
        self.from_number = from_number


class MessagingService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        carrier: Carrier,
        queue: JobQueue,
        recorder: DeliveryRecorder,
        events: EventLog,
        attachments: AttachmentService,
    ) -> None:
        self.events = events
        self.attachments = attachments
        self.storage = storage
        self.clock = clock
        self.carrier = carrier
        self.queue = queue
        self.recorder = recorder
        # (account, chat) -> the chat's recipients at this process's last send to it: a chat
        # known here exists, so a send to it is not read first to refuse an unknown id before
        # media are fetched (the write transaction reads it anyway).
        self._recipients: dict[tuple[AccountId, str], tuple[str, ...]] = {}

    # -- the three send endpoints -------------------------------------------------

    async def create_chat(
        self,
        account: Account,
        from_number: str,
        to: list[str],
        content: MessageContent,
        fingerprint: str,
    ) -> SendResult:
        number = parse_phone(from_number, "from")
        recipients = _recipients(to, own=number)
        check_card_service(content)
        content = await self.attachments.resolve_media(account, content)
        # The line is chosen: what its own carrier reaches (delivery/routing.py).
        selection_caps = {
            h.value: await self.carrier.capabilities_from(number, account.id, h.value)
            for h in recipients
        }
        async with self.storage.write() as repos:
            replay = await self._replay(repos, account, content, fingerprint)
            if replay:
                return replay
            line = check_account_line(await repos.lines.by_number(account.id, number), number)
            if not line.can_send:
                raise LinqError(ErrorCode.LINE_INELIGIBLE, f"{number} is temporarily ineligible")
            key = recipient_key([h.value for h in recipients])
            await repos.locks.hold(f"chat:{account.id}:{key}")
            existing = await repos.chats.reusable(account.id, key, line.id)
            if existing:
                chat = existing[0][0]
                return await self._send(
                    repos, account, chat, line, content, fingerprint, selection_caps, created=False
                )
            _check_first_message(content)
            chat = await self._open_chat(repos, line, recipients, selection_caps, content)
            return await self._send(
                repos,
                account,
                chat,
                line,
                content,
                fingerprint,
                selection_caps,
                created=True,
                reason="new_best_number",
            )

    async def send_to_chat(
        self, account: Account, chat_id: str, content: MessageContent, fingerprint: str
    ) -> SendResult:
        if (account.id, chat_id) not in self._recipients:
            # Unknown here: read the chat first, so an unknown id is refused before any
            # media is fetched.
            async with self.storage.read() as repos:
                await chat_and_line(repos, account, chat_id)
        check_card_service(content)
        content = await self.attachments.resolve_media(account, content)
        # First try: the carrier reads the capabilities in the send's own transaction (the
        # simulator keeps them there). A carrier that must be asked outside one, or members
        # changing meanwhile, costs a round with them looked up first.
        caps: dict[str, frozenset[Service]] | None = None
        for round_ in range(RECIPIENT_ROUNDS + 1):
            try:
                return await self._send_to_chat(
                    account, chat_id, content, fingerprint, caps, last=round_ == RECIPIENT_ROUNDS
                )
            except _RecipientsChangedError as changed:
                caps = {
                    h: await self.carrier.capabilities_from(changed.from_number, account.id, h)
                    for h in changed.recipients
                }
        raise AssertionError("the last round never raises _RecipientsChangedError")

    async def _send_to_chat(
        self,
        account: Account,
        chat_id: str,
        content: MessageContent,
        fingerprint: str,
        caps: dict[str, frozenset[Service]] | None,
        *,
        last: bool,
    ) -> SendResult:
        """``caps`` None: read them here, or raise for the caller to look them up."""
        async with self.storage.write() as repos:
            replay = await self._replay(repos, account, content, fingerprint)
            if replay:
                return replay
            chat, line = await chat_and_line(repos, account, chat_id)
            recipients = tuple(h.handle for h in chat.recipients)
            # The chat's line is known: what its own carrier reaches (delivery/routing.py).
            number = line.phone_number
            if caps is None:
                caps = await self.carrier.stored_capabilities_from(
                    repos, number, account.id, recipients
                )
                if caps is None:
                    raise _RecipientsChangedError(recipients, number)
            elif not last and any(h not in caps for h in recipients):
                raise _RecipientsChangedError(recipients, number)
            return await self._send(
                repos, account, chat, line, content, fingerprint, caps, created=False
            )

    def _remember(self, known: tuple[AccountId, str], recipients: tuple[str, ...]) -> None:
        self._recipients.pop(known, None)
        if len(self._recipients) >= KNOWN_RECIPIENTS:
            del self._recipients[next(iter(self._recipients))]
        self._recipients[known] = recipients

    async def create_message(
        self,
        account: Account,
        to: list[str],
        content: MessageContent,
        fingerprint: str,
        *,
        continuation_text: str | None,
        exclude_from: list[str],
    ) -> SendResult:
        """POST /v3/messages: reuse a live chat, else open one on the best line, or fail over."""
        recipients = _recipients(to)
        excluded = parse_exclusions(exclude_from)
        check_card_service(content)
        content = await self.attachments.resolve_media(account, content)
        caps = await self._capabilities(account, recipients)
        async with self.storage.write() as repos:
            replay = await self._replay(repos, account, content, fingerprint)
            if replay:
                return replay
            key = recipient_key([h.value for h in recipients])
            await repos.locks.hold(f"chat:{account.id}:{key}")
            matches = await repos.chats.reusable(account.id, key)
            lines = {line.id: line for line in await repos.lines.of_account(account.id)}
            live = [chat for chat, can_send in matches if can_send]
            if live:
                preferred = [c for c in live if lines[c.line_id].phone_number not in excluded]
                chat = (preferred or live)[0]
                return await self._send(
                    repos,
                    account,
                    chat,
                    lines[chat.line_id],
                    content,
                    fingerprint,
                    caps,
                    created=False,
                )
            line = pick_line(list(lines.values()), excluded, reach=_reach(content, caps))
            reason, previous = "new_best_number", None
            if matches:
                reason, previous = "failover_flagged", matches[0][0].id
                if continuation_text is not None:
                    content = replace(
                        content,
                        parts=({"type": "text", "value": continuation_text},),
                        effect=None,
                        reply_to=None,
                    )
            chat = await self._open_chat(repos, line, recipients, caps, content)
            return await self._send(
                repos,
                account,
                chat,
                line,
                content,
                fingerprint,
                caps,
                created=True,
                reason=reason,
                previous_chat_id=previous,
            )

    # -- shared steps -----------------------------------------------------------

    async def _capabilities(
        self, account: Account, recipients: list[Handle]
    ) -> dict[str, frozenset[Service]]:
        return await self._capabilities_of(account.id, [h.value for h in recipients])

    async def _capabilities_of(
        self, account_id: AccountId, handles: list[str]
    ) -> dict[str, frozenset[Service]]:
        return {h: await self.carrier.capabilities(account_id, h) for h in handles}

    async def _replay(
        self, repos: Repos, account: Account, content: MessageContent, fingerprint: str
    ) -> SendResult | None:
        """The original result for a reused idempotency key, or None for a new key."""
        key = content.idempotency_key
        if key is None:
            return None
        await repos.locks.hold(f"idempotency:{account.id}:{key}")
        original = await repos.messages.by_idempotency_key(account.id, key)
        if original is None:
            return None
        return await self._replay_of(repos, account, original, fingerprint)

    async def _replay_of(
        self, repos: Repos, account: Account, original: Message, fingerprint: str
    ) -> SendResult:
        if original.deleted:
            raise LinqError(
                ErrorCode.MESSAGE_NOT_FOUND,
                "the message sent with this idempotency_key no longer exists; it is not resent",
            )
        if original.request_hash != fingerprint:
            raise LinqError(
                ErrorCode.STATE_CONFLICT,
                "this idempotency_key was already used for a different request",
            )
        chat, line = await chat_and_line(repos, account, original.chat_id)
        meta = original.send_meta
        return SendResult(
            chat=chat,
            line=line,
            message=original,
            created_chat=bool(meta.get("created_chat")),
            reason=meta.get("reason", "reused_active_chat"),
            previous_chat_id=meta.get("previous_chat_id"),
        )

    async def _open_chat(
        self,
        repos: Repos,
        line: Line,
        recipients: list[Handle],
        caps: dict[str, frozenset[Service]],
        content: MessageContent,
    ) -> Chat:
        now = self.clock.now()
        selection = select_service(content.preferred_service, caps.values(), line.services)
        members = [
            (
                h.value,
                selection.service
                if len(recipients) > 1
                else select_service(None, [caps[h.value]], line.services).service,
            )
            for h in recipients
        ]
        return await open_chat(repos, self.events, line, members, selection.service, now)

    async def _send(
        self,
        repos: Repos,
        account: Account,
        chat: Chat,
        line: Line,
        content: MessageContent,
        fingerprint: str,
        caps: dict[str, frozenset[Service]],
        *,
        created: bool,
        reason: str = "reused_active_chat",
        previous_chat_id: str | None = None,
    ) -> SendResult:
        require_usable(chat, line)
        await self._check_against_chat(repos, chat, content)
        await refuse_blocked(repos, chat)
        await refuse_opted_out(repos, chat, override=content.override_optout)
        now = self.clock.now()
        await take_send_limits(
            repos, account, line.phone_number, [h.handle for h in chat.recipients], now
        )
        selection = _selection(content, chat, line, caps)
        if content.poll_options is not None and not selection.deliverable:
            raise LinqError(
                ErrorCode.CHAT_SERVICE_NOT_SUPPORTED, "polls are iMessage only; this chat is not"
            )
        thread_root = await self._thread_root(repos, chat, content)
        message = Message(
            id=MessageId(new_id()),
            account_id=account.id,
            chat_id=chat.id,
            direction=Direction.OUTBOUND,
            sender_handle=line.phone_number,
            parts=await bind_parts(repos, chat, content.parts),
            effect=content.effect,
            reply_to=content.reply_to,
            preferred_service=content.preferred_service,
            service=selection.service,
            delivery_status=DeliveryStatus.QUEUED,
            idempotency_key=content.idempotency_key,
            created_at=now,
            updated_at=now,
            thread_root_id=thread_root,
            request_hash=fingerprint,
            expires_at=expiry(account, line, now),
            send_meta={
                "created_chat": created,
                "reason": reason,
                "previous_chat_id": previous_chat_id,
                **({"poll": True} if content.poll_options is not None else {}),
            },
        )
        await repos.messages.add(message)
        if content.poll_options is not None:
            await repos.polls.add_options(
                new_options(message.id, content.poll_options, line.phone_number, 0, now)
            )
        await repos.chats.record_activity(chat.id, selection.service, now)
        await health.refresh(repos, chat, now)
        await self.queue.schedule(repos, SEND_JOB, {"message_id": message.id})
        # Last: on PostgreSQL the line's row stays locked until the commit, and every send
        # from the line waits for it; taken at the end, it is held for the commit alone.
        await repos.lines.touch(line.id, now)
        recipients = tuple(h.handle for h in chat.recipients)
        repos.after_commit(lambda: self._remember((account.id, chat.id), recipients))
        return SendResult(chat, line, message, created, reason, previous_chat_id)

    async def _check_against_chat(self, repos: Repos, chat: Chat, content: MessageContent) -> None:
        if content.mentions:
            if not chat.is_group:
                raise LinqError(ErrorCode.MENTION_IN_DIRECT_CHAT)
            members = {h.handle for h in chat.recipients}
            for mention in content.mentions:
                if mention not in members:
                    raise LinqError(
                        ErrorCode.STATE_CONFLICT, f"mention {mention!r} is not in this chat"
                    )
        if content.reply_to is not None:
            target = await repos.messages.get(chat.account_id, content.reply_to.message_id)
            if target is None or target.chat_id != chat.id:
                raise LinqError(
                    ErrorCode.MESSAGE_NOT_FOUND, "reply_to.message_id is not a message in this chat"
                )
            if content.reply_to.part_index >= len(target.parts):
                raise LinqError(
                    ErrorCode.INVALID_PARAMETER,
                    f"reply_to.part_index must be below {len(target.parts)}",
                )

    async def _thread_root(
        self, repos: Repos, chat: Chat, content: MessageContent
    ) -> MessageId | None:
        if content.reply_to is None:
            return None
        target = await repos.messages.get(chat.account_id, content.reply_to.message_id)
        assert target is not None, "checked by _check_against_chat"
        return target.thread_root_id or target.id

    # -- the send job -------------------------------------------------------------

    async def run_send_job(self, payload: dict[str, Any]) -> None:
        """Hand one queued message to the carrier (idempotent: only queued messages go)."""
        message_id = MessageId(payload["message_id"])
        async with self.storage.read() as repos:
            message = await repos.messages.get_any(message_id)
            if message is None or message.delivery_status is not DeliveryStatus.QUEUED:
                return
            found = await repos.chats.with_line_any(message.chat_id)
            assert found is not None, "a message always belongs to a chat, and a chat to a line"
            chat, line = found
            recipients = [h.handle for h in chat.recipients]
            caps = await self.carrier.stored_capabilities_from(
                repos, line.phone_number, chat.account_id, recipients
            )
        if caps is None:
            caps = {
                h: await self.carrier.capabilities_from(line.phone_number, chat.account_id, h)
                for h in recipients
            }
        if (
            not all(message.service in c for c in caps.values())
            or message.service not in line.services
        ):
            await self.recorder.failed(
                message.id,
                ErrorCode.RECIPIENT_UNSUPPORTED_TYPE,
                f"the recipient cannot be reached on {message.service.value}",
            )
            return
        outbound = OutboundMessage(
            message_id=message.id,
            account_id=message.account_id,
            chat_id=chat.id,
            from_number=line.phone_number,
            recipients=tuple(recipients),
            is_group=chat.is_group,
            service=message.service,
            parts=message.parts,
            effect=message.effect,
            reply_to_id=message.reply_to.message_id if message.reply_to else None,
            is_poll=message.is_poll,
        )
        try:
            await self.carrier.send(outbound)
        except CarrierRejectedError as rejected:
            await self.recorder.failed(message.id, rejected.code, rejected.reason)


def _recipients(to: list[str], own: str | None = None) -> list[Handle]:
    recipients = parse_recipients(to)
    if len(recipients) > MAX_GROUP_RECIPIENTS:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            f"a chat has at most {MAX_GROUP_RECIPIENTS} recipients",
        )
    if own is not None and any(h.value == own for h in recipients):
        raise LinqError(ErrorCode.INVALID_PARAMETER, "to cannot include the from line itself")
    return recipients


def _check_first_message(content: MessageContent) -> None:
    """The opening message of a new chat may carry no link, reply or effect."""
    if content.has_link:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER,
            "the first message of a new chat cannot contain a link (a link part or a URL in text)",
        )
    if content.reply_to is not None:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "the first message of a new chat cannot reply")
    if content.effect is not None:
        raise LinqError(
            ErrorCode.INVALID_PARAMETER, "the first message of a new chat cannot carry an effect"
        )


def _selection(
    content: MessageContent, chat: Chat, line: Line, caps: dict[str, frozenset[Service]]
) -> Selection:
    """App cards and polls go over iMessage or not at all; everything else follows its
    preference."""
    members = [
        caps[h.handle]
        for h in chat.handles
        if not h.is_me and h.status is HandleStatus.ACTIVE and h.handle in caps
    ]
    return select_service(_preferred(content), members, line.services)


def _preferred(content: MessageContent) -> Service | None:
    imessage_only = requires_imessage(content) or content.poll_options is not None
    return Service.IMESSAGE if imessage_only else content.preferred_service


def _reach(content: MessageContent, caps: dict[str, frozenset[Service]]) -> LineReach:
    """Ranks lines for a new chat by the service they would reach its recipients on, from
    the capabilities the send already asked the carrier for (never per line)."""
    preferred, members = _preferred(content), list(caps.values())
    return lambda line: reach(preferred, members, line.services)
