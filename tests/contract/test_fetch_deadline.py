"""Outbound fetches have a total deadline: a peer that drips bytes cannot hold a request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import linq
import pytest

from tests.support.files import PNG, dripping, serving
from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant, tenant_on

DEADLINE = 1.0


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose media fetches must finish within one second."""
    with server_with(
        tmp_path_factory.mktemp("impatient"), fetch_deadline_seconds=DEADLINE
    ) as running:
        yield running


@pytest.fixture
def tenant_of_impatient(impatient: RunningServer) -> Iterator[Tenant]:
    with tenant_on(impatient) as tenant:
        yield tenant


def test_a_media_url_that_drips_bytes_fails_at_the_deadline(tenant_of_impatient: Tenant) -> None:
    tenant = tenant_of_impatient
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=["+14155556001"],
        message={"parts": [{"type": "text", "value": "hi"}]},
    )
    # A byte every 50 ms: each read is quick, the whole file would take over 4 s.
    with dripping(PNG + b"\x00" * 20, interval=0.05) as base:
        started = time.monotonic()
        with pytest.raises(linq.APIStatusError) as refused:
            tenant.client.chats.messages.send(
                created.chat.id,
                message={"parts": [{"type": "media", "url": f"{base}/slow.png"}]},
            )
        elapsed = time.monotonic() - started
    assert (refused.value.status_code, refused.value.code) == (400, 5002)
    assert f"within {DEADLINE:g} s" in str(refused.value)
    assert elapsed < DEADLINE + 1.5
    assert len(tenant.client.chats.messages.list(created.chat.id).messages) == 1


def test_a_prompt_media_url_is_still_fetched(tenant_of_impatient: Tenant, tmp_path: Path) -> None:
    tenant = tenant_of_impatient
    # Served in one write: byte-by-byte answers could pass the deadline on a busy machine.
    (tmp_path / "quick.png").write_bytes(PNG)
    with serving(tmp_path) as base:
        created = tenant.client.chats.create(
            from_=tenant.line,
            to=["+14155556002"],
            message={"parts": [{"type": "media", "url": f"{base}/quick.png"}]},
        )
    (part,) = created.chat.message.parts
    assert part.type == "media"
