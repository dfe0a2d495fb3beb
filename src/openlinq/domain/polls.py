"""Polls (iMessage only): create one in a chat, read its results, add options, vote.

A poll is a message of its chat: creating one is a send (same checks, idempotency key,
carrier job and lifecycle), whose events are ``poll.sent`` / ``delivered`` / ``read`` /
``failed`` instead of ``message.*``. Options are add-only and immutable; each participant
votes per option (a toggle). The phones' side (a poll received, votes, options added) comes
in through the ``inbound_*`` methods, the carriers' entry points.
"""

from __future__ import annotations

from collections.abc import Sequence

from openlinq.domain import activity
from openlinq.domain.actions import CarrierActions
from openlinq.domain.chats import chat_and_line, require_usable
from openlinq.domain.clock import Clock
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.events import EventLog
from openlinq.domain.ids import AccountId, MessageId
from openlinq.domain.links import Links
from openlinq.domain.messages import owned_message
from openlinq.domain.messaging import MessagingService
from openlinq.domain.models import (
    Account,
    Chat,
    DeliveryStatus,
    Direction,
    Line,
    Poll,
    PollOption,
    PollVote,
)
from openlinq.domain.parts import MessageContent
from openlinq.domain.poll_options import check_options, new_options, resent_additions
from openlinq.domain.poll_views import (
    JSON,
    envelope_view,
    poll_updated_data,
    poll_vote_data,
)
from openlinq.store.repos import Repos
from openlinq.store.unit import Storage


async def poll_in_chat(repos: Repos, account: Account, message_id: str) -> tuple[Poll, Chat, Line]:
    """The account's poll with that definition message id; any other message is 404."""
    message = await owned_message(repos, account, message_id)
    if not message.is_poll:
        raise LinqError(ErrorCode.MESSAGE_NOT_FOUND, f"message {message_id} is not a poll")
    chat, line = await chat_and_line(repos, account, message.chat_id)
    return await repos.polls.of(message), chat, line


def _require_open(poll: Poll) -> None:
    if poll.message.delivery_status is DeliveryStatus.FAILED:
        raise LinqError(ErrorCode.STATE_CONFLICT, "this poll failed to send; it takes no changes")


def _option(poll: Poll, option_id: str) -> PollOption:
    found = next((o for o in poll.options if o.id == option_id), None)
    if found is None:
        raise LinqError(ErrorCode.INVALID_PARAMETER, f"{option_id!r} is not an option of this poll")
    return found


class PollService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        events: EventLog,
        messaging: MessagingService,
        actions: CarrierActions,
        links: Links,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.events = events
        self.messaging = messaging
        self.actions = actions
        self.links = links

    # -- your line --------------------------------------------------------------------

    async def create(
        self,
        account: Account,
        chat_id: str,
        texts: Sequence[str],
        idempotency_key: str | None,
        fingerprint: str,
    ) -> JSON:
        """Send a poll into an existing chat (the send pipeline refuses non-iMessage chats)."""
        content = MessageContent(
            parts=(), idempotency_key=idempotency_key, poll_options=check_options(texts)
        )
        result = await self.messaging.send_to_chat(account, chat_id, content, fingerprint)
        return await self.retrieve(account, result.message.id)

    async def retrieve(self, account: Account, message_id: str) -> JSON:
        async with self.storage.read() as repos:
            return await self._envelope(repos, account, message_id)

    async def _envelope(self, repos: Repos, account: Account, message_id: str) -> JSON:
        poll, chat, line = await poll_in_chat(repos, account, message_id)
        reactions = (await repos.messages.reactions_for([poll.message.id])).get(poll.message.id, [])
        return envelope_view(poll, chat, line, self.links, reactions)

    async def add_options(self, account: Account, message_id: str, texts: Sequence[str]) -> JSON:
        async with self.storage.write() as repos:
            poll, chat, line = await poll_in_chat(repos, account, message_id)
            require_usable(chat, line)
            _require_open(poll)
            if line.zero_retention:
                texts = resent_additions(texts, [o.text for o in poll.options])
            await self._add_options(repos, poll, chat, line, texts, line.phone_number)
            return await self._envelope(repos, account, message_id)

    async def vote(self, account: Account, message_id: str, operation: str, option_id: str) -> JSON:
        async with self.storage.write() as repos:
            poll, chat, line = await poll_in_chat(repos, account, message_id)
            require_usable(chat, line)
            _require_open(poll)
            await self._vote(repos, poll, chat, line, option_id, line.phone_number, operation)
            return await self._envelope(repos, account, message_id)

    # -- the phones (carrier entry points) ---------------------------------------------

    async def inbound_options(
        self, account_id: AccountId, message_id: MessageId, sender: str, texts: Sequence[str]
    ) -> None:
        """A participant adds options to a poll of the chat."""
        async with self.storage.write() as repos:
            poll, chat, line = await self._inbound_context(repos, account_id, message_id, sender)
            await self._add_options(repos, poll, chat, line, texts, sender)

    async def inbound_vote(
        self,
        account_id: AccountId,
        message_id: MessageId,
        sender: str,
        option_id: str,
        *,
        remove: bool = False,
    ) -> None:
        """A participant votes for an option (or takes the vote back)."""
        async with self.storage.write() as repos:
            poll, chat, line = await self._inbound_context(repos, account_id, message_id, sender)
            operation = "remove" if remove else "add"
            await self._vote(repos, poll, chat, line, option_id, sender, operation)

    async def _inbound_context(
        self, repos: Repos, account_id: AccountId, message_id: MessageId, sender: str
    ) -> tuple[Poll, Chat, Line]:
        account = await repos.accounts.get(account_id)
        assert account is not None, "the carrier reports for existing accounts"
        poll, chat, line = await poll_in_chat(repos, account, message_id)
        if not any(h.handle == sender for h in chat.recipients):
            raise LinqError(ErrorCode.ACCESS_DENIED, f"{sender} is not in that poll's chat")
        _require_open(poll)
        return poll, chat, line

    # -- shared steps -----------------------------------------------------------------

    async def _add_options(
        self,
        repos: Repos,
        poll: Poll,
        chat: Chat,
        line: Line,
        texts: Sequence[str],
        creator: str,
    ) -> None:
        now = self.clock.now()
        checked = check_options(texts, [o.text for o in poll.options])
        added = new_options(poll.message.id, checked, creator, len(poll.options), now)
        await repos.polls.add_options(added)
        await repos.polls.touch(poll.message.id, now)
        poll = await repos.polls.of(poll.message)
        mine = creator == line.phone_number
        direction = Direction.OUTBOUND if mine else Direction.INBOUND
        await self.events.record(
            repos,
            chat.account_id,
            "poll.updated",
            poll_updated_data(poll, added, chat, line, direction.value),
            phone_number=line.phone_number,
            now=now,
        )
        if mine:
            await self.actions.schedule(
                repos,
                chat,
                line,
                "poll_options_added",
                {"message_id": poll.message.id, "options": [o.text for o in added]},
            )
        else:
            activity.inbound(repos, creator, chat, f"added poll options {', '.join(checked)}"[:200])

    async def _vote(
        self,
        repos: Repos,
        poll: Poll,
        chat: Chat,
        line: Line,
        option_id: str,
        voter: str,
        operation: str,
    ) -> None:
        """Toggle ``voter``'s vote on one option; a vote already as asked changes nothing."""
        _option(poll, option_id)
        voted = any(v.option_id == option_id and v.handle == voter for v in poll.votes)
        if voted == (operation == "add"):
            return
        now = self.clock.now()
        if operation == "add":
            await repos.polls.add_vote(poll.message.id, PollVote(option_id, voter, now))
        else:
            await repos.polls.remove_vote(option_id, voter)
        await repos.polls.touch(poll.message.id, now)
        mine = voter == line.phone_number
        direction = Direction.OUTBOUND if mine else Direction.INBOUND
        suffix = "added" if operation == "add" else "removed"
        await self.events.record(
            repos,
            chat.account_id,
            f"poll.vote.{suffix}",
            poll_vote_data(poll, option_id, voter, chat, line, direction.value, now),
            phone_number=line.phone_number,
            now=now,
        )
        if mine:
            await self.actions.schedule(
                repos,
                chat,
                line,
                f"poll_vote_{suffix}",
                {"message_id": poll.message.id, "option_id": option_id},
            )
        else:
            activity.inbound(repos, voter, chat, f"poll vote {suffix}")
