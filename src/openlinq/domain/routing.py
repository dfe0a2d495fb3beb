"""Service selection: which of iMessage, RCS and SMS carries a message.

With no preference the chain is iMessage, then RCS, then SMS. ``iMessage`` as a
preference means iMessage or nothing; ``RCS`` and ``SMS`` mean RCS where the
recipient has it, else SMS, and never iMessage (the platform's documented rules).
A group uses the best service every active recipient can receive.
"""

from __future__ import annotations

from collections.abc import Iterable
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
