"""Where a delivery connects: the policy's check, kept per URL only where it is parsing alone."""

from __future__ import annotations

import pytest

from openlinq.domain.clock import ManualClock
from openlinq.jobs.runner import JobQueue
from openlinq.outbound import OutboundPolicy, ResolvedTarget
from openlinq.store.unit import Storage
from openlinq.webhooks.dispatch import DispatchSettings, WebhookDispatcher

pytestmark = pytest.mark.anyio


class CountingPolicy(OutboundPolicy):
    """The real policy, counting the checks it makes."""

    resolved = 0

    async def resolve(self, url: str) -> ResolvedTarget:
        self.resolved += 1
        return await super().resolve(url)


def dispatcher(storage: Storage, policy: OutboundPolicy) -> WebhookDispatcher:
    clock = ManualClock()
    return WebhookDispatcher(storage, clock, JobQueue(clock), policy, DispatchSettings())


async def test_hosted_mode_checks_the_address_at_every_attempt(storage: Storage) -> None:
    policy = CountingPolicy(hosted=True)
    hooks = dispatcher(storage, policy)
    for _ in range(3):  # DNS can change between attempts: a public name may turn private
        target = await hooks._resolve("https://1.1.1.1:8443/hook")
    assert target.address == "1.1.1.1"
    assert policy.resolved == 3


async def test_local_mode_parses_a_url_once_and_never_keeps_a_refusal(storage: Storage) -> None:
    policy = CountingPolicy(hosted=False)
    hooks = dispatcher(storage, policy)
    for _ in range(3):
        await hooks._resolve("http://127.0.0.1:9/hook")
    assert policy.resolved == 1
    for _ in range(2):
        with pytest.raises(PermissionError):
            await hooks._resolve("http://[::1/hook")
    assert policy.resolved == 3
