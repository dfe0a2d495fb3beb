"""The Carrier interface: the seam where real gateways plug in.

A carrier answers two questions, "what can this handle receive?" and "send
this", and reports what happens next (sent, delivered, read, failed, inbound
traffic) through ``DeliveryRecorder``, the same domain entry points a real
gateway's callbacks would use. The API layer never sees a carrier.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.ids import AccountId, ChatId, MessageId
from openlinq.domain.models import Effect, Service

if TYPE_CHECKING:
    from openlinq.store.repos import Repos


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    message_id: MessageId
    account_id: AccountId
    chat_id: ChatId
    from_number: str
    recipients: tuple[str, ...]
    is_group: bool
    service: Service
    parts: tuple[dict[str, Any], ...]
    effect: Effect | None
    reply_to_id: MessageId | None
    # A poll: no parts; its options are read with the message (repos.polls).
    is_poll: bool = False


@dataclass(frozen=True, slots=True)
class ChatAction:
    """Anything besides a message that must reach the chat's devices.

    ``kind`` is one of ``ACTION_KINDS``; ``data`` carries what the kind needs
    (the reacted message and reaction, an edit's new text, a new group name ...).
    """

    kind: str
    account_id: AccountId
    chat_id: ChatId
    from_number: str
    recipients: tuple[str, ...]
    service: Service
    data: dict[str, Any]


ACTION_KINDS = frozenset(
    {
        "reaction_added",
        "reaction_removed",
        "message_edited",
        "typing_started",
        "typing_stopped",
        "chat_read",
        "group_renamed",
        "group_icon_changed",
        "participant_added",
        "participant_removed",
        "chat_left",
        "contact_card_shared",
        "location_requested",
        "poll_options_added",
        "poll_vote_added",
        "poll_vote_removed",
        "sticker_moved",
        "background_changed",
    }
)


class CarrierRejectedError(Exception):
    """A permanent failure: the message is marked failed with ``code``, not retried."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Carrier(ABC):
    """Anything that can move messages to and from phones.

    ``send`` returns once the carrier has accepted the message; raising
    ``CarrierRejectedError`` fails the message, any other exception makes the send job
    retry with backoff (so ``send`` must tolerate being called twice for one id).
    """

    name: str

    @abstractmethod
    async def capabilities(self, account_id: AccountId, handle: str) -> frozenset[Service]:
        """The services ``handle`` can currently receive."""

    async def capabilities_from(
        self, from_number: str, account_id: AccountId, handle: str
    ) -> frozenset[Service]:
        """What ``handle`` can receive from the line ``from_number`` (when the line is known).

        The same as ``capabilities`` for a carrier serving every line; the per-line router
        (delivery/routing.py) asks that line's own carrier.
        """
        return await self.capabilities(account_id, handle)

    async def stored_capabilities(
        self, repos: Repos, account_id: AccountId, handles: Sequence[str]
    ) -> dict[str, frozenset[Service]] | None:
        """``capabilities`` of each handle read in ``repos``' transaction, when this carrier
        keeps them in the database (the simulator's devices); None otherwise.

        A send then reads them in its own write transaction instead of a transaction of
        their own before it. None (the default) makes the caller ask ``capabilities``
        outside any transaction, as a real carrier may ask the network.
        """
        return None

    async def stored_capabilities_from(
        self, repos: Repos, from_number: str, account_id: AccountId, handles: Sequence[str]
    ) -> dict[str, frozenset[Service]] | None:
        """``stored_capabilities`` as the line ``from_number``'s carrier keeps them (the
        per-line router asks that line's own carrier, as ``capabilities_from`` does)."""
        return await self.stored_capabilities(repos, account_id, handles)

    @abstractmethod
    async def send(self, message: OutboundMessage) -> None:
        """Hand ``message`` over for delivery."""

    async def refusal(
        self, repos: Repos, from_number: str, kind: str, data: dict[str, Any]
    ) -> LinqError | None:
        """Why the line ``from_number`` cannot carry the action ``kind`` (None: it can, or
        cannot tell yet). Asked by the API before it commits (domain/actions.py), inside the
        caller's transaction ``repos`` (read with it, never in a transaction of its own):
        answer from what is known in memory, never over the network."""
        return None

    @abstractmethod
    async def perform(self, action: ChatAction) -> None:
        """Carry out a non-message action (reaction, edit, typing, group change ...).

        A carrier that cannot do a kind raises ``CarrierRejectedError``; the action is then
        dropped and logged. ``refusal`` refuses what is known beforehand at the API, so this
        is the fallback for a gateway whose state changed after the API accepted the action.
        """
