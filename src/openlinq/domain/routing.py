"""Service selection: which of iMessage, RCS and SMS carries a message.

With no preference the chain is iMessage, then RCS, then SMS. ``iMessage`` as a
preference means iMessage or nothing; ``RCS`` and ``SMS`` mean RCS where the
recipient has it, else SMS, and never iMessage (the platform's documented rules).
A group uses the best service every active recipient can receive. ``reach`` ranks a
line by the service it would reach its recipients on, for picking a line to open a chat.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openlinq.domain.models import Service

DEFAULT_CHAIN = (Service.IMESSAGE, Service.RCS, Service.SMS)
NON_IMESSAGE_CHAIN = (Service.RCS, Service.SMS)


@dataclass(frozen=True, slots=True)
class Selection:
    """The service to use; ``deliverable`` is false when the send must fail."""

    service: Service
    deliverable: bool


def chain_for(preferred: Service | None) -> tuple[Service, ...]:
    if preferred is None:
        return DEFAULT_CHAIN
    if preferred is Service.IMESSAGE:
        return (Service.IMESSAGE,)
    return NON_IMESSAGE_CHAIN


def select_service(
    preferred: Service | None,
    recipients: Iterable[frozenset[Service]],
    line_services: frozenset[Service],
) -> Selection:
    common = set(line_services)
    for capabilities in recipients:
        common &= capabilities
    chain = chain_for(preferred)
    for service in chain:
        if service in common:
            return Selection(service, True)
    return Selection(chain[0], False)


def best_service(capabilities: frozenset[Service], line_services: frozenset[Service]) -> Service:
    """The service a handle is reached on with no preference (SMS as the last resort)."""
    return select_service(None, [capabilities], line_services).service


def reach(
    preferred: Service | None,
    recipients: Sequence[frozenset[Service]],
    line_services: frozenset[Service],
) -> tuple[int, int]:
    """How well a line reaches ``recipients``, lower is better: the place in the message's
    chain of the service it would go on (undeliverable last), then the same with no
    preference. A chat stays on the line it opens on, so between two lines equal for this
    message the one that can reach the recipients' best service later wins."""
    return _rank(preferred, recipients, line_services), _rank(None, recipients, line_services)


def _rank(
    preferred: Service | None,
    recipients: Sequence[frozenset[Service]],
    line_services: frozenset[Service],
) -> int:
    chain = chain_for(preferred)
    selection = select_service(preferred, recipients, line_services)
    return chain.index(selection.service) if selection.deliverable else len(chain)
