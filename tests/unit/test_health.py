"""assess: a chat's health from its latest messages."""

from __future__ import annotations

import pytest

from openlinq.domain.health import assess
from openlinq.domain.models import ChatHealth, DeliveryStatus, Direction

OUT, IN = Direction.OUTBOUND, Direction.INBOUND
FAILED, DELIVERED = DeliveryStatus.FAILED, DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    ("latest", "health"),
    [
        ([(IN, DeliveryStatus.RECEIVED)], ChatHealth.HEALTHY),
        ([(OUT, DELIVERED)] * 4 + [(IN, DeliveryStatus.RECEIVED)], ChatHealth.HEALTHY),
        ([(OUT, DELIVERED)] * 5, ChatHealth.AT_RISK),
        ([(OUT, DELIVERED)] * 10, ChatHealth.CRITICAL),
        ([(OUT, FAILED)] * 3, ChatHealth.CRITICAL),
        ([(OUT, FAILED), (OUT, FAILED), (OUT, DELIVERED), (OUT, FAILED)], ChatHealth.HEALTHY),
    ],
)
def test_chat_health_model(
    latest: list[tuple[Direction, DeliveryStatus]], health: ChatHealth
) -> None:
    assert assess(latest) is health
