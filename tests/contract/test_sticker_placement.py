"""Sticker placement: stored on add, moved with PATCH, and image stickers' measured size."""

from __future__ import annotations

from typing import Any

import httpx
import linq
import pytest
from sqlalchemy import update

from openlinq.store.tables import reactions
from tests.support.files import image_bytes
from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tests.support.tenant import Tenant

HI: Any = {"parts": [{"type": "text", "value": "hi"}]}


def _upload(tenant: Tenant, data: bytes, name: str, content_type: Any) -> str:
    created = tenant.client.attachments.create(
        filename=name, content_type=content_type, size_bytes=len(data)
    )
    httpx.put(created.upload_url, content=data, headers=created.required_headers).raise_for_status()
    return created.attachment_id


def _message(tenant: Tenant) -> str:
    sent = tenant.client.chats.create(from_=tenant.line, to=["+14155550181"], message=HI)
    return sent.chat.message.id


def _reactions(tenant: Tenant, message_id: str) -> list[Any]:
    message: Any = tenant.client.messages.retrieve(message_id)
    part = message.parts[0]
    return list(part.reactions or [])


def _raw_reactions(tenant: Tenant, message_id: str) -> list[dict[str, Any]]:
    body = tenant.http.get(f"/v3/messages/{message_id}").json()
    return list(body["parts"][0]["reactions"])


@pytest.mark.parametrize(
    ("fmt", "name", "content_type", "size"),
    [
        ("PNG", "s.png", "image/png", (48, 32)),
        ("JPEG", "s.jpg", "image/jpeg", (40, 30)),
        ("GIF", "s.gif", "image/gif", (17, 9)),
        ("WEBP", "s.webp", "image/webp", (64, 21)),
    ],
)
def test_image_stickers_report_their_measured_size(
    tenant: Tenant,
    receiver: Receiver,
    fmt: str,
    name: str,
    content_type: str,
    size: tuple[int, int],
) -> None:
    subscription = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=["reaction.added"]
    )
    message_id = _message(tenant)
    image = _upload(tenant, image_bytes(*size, fmt), name, content_type)
    tenant.client.messages.add_reaction(
        message_id, operation="add", type="sticker", attachment_id=image
    )
    sticker: Any
    (sticker,) = _reactions(tenant, message_id)
    assert (sticker.sticker.width, sticker.sticker.height) == size
    tenant.sim.advance(0)
    (hit,) = receiver.wait_for(1)
    event: Any = tenant.client.webhooks.unwrap(
        hit.body.decode(), headers=hit.headers, key=subscription.signing_secret
    )
    assert isinstance(event, linq.types.ReactionAddedWebhookEvent)
    added = event.data.sticker
    assert added is not None
    assert (added.width, added.height) == size
    assert event.data.reaction_id == sticker.id


def test_placement_is_stored_on_add_and_moved_with_patch(tenant: Tenant) -> None:
    message_id = _message(tenant)
    image = _upload(tenant, image_bytes(8, 8, "PNG"), "s.png", "image/png")
    tenant.client.messages.add_reaction(
        message_id,
        operation="add",
        type="sticker",
        attachment_id=image,
        placement={"x": 0.5, "y": -0.5, "scale": 9.0},
    )
    tenant.client.messages.add_reaction(message_id, operation="add", type="sticker", emoji="🦄")
    image_sticker, emoji_sticker = _raw_reactions(tenant, message_id)
    assert image_sticker["placement"] == {"x": 0.5, "y": -0.5, "scale": 2.5, "rotation": 0.0}
    assert emoji_sticker["placement"] == {"x": 0.0, "y": 0.0, "scale": 0.5, "rotation": 0.0}

    moved = tenant.client.messages.update_sticker_placement(
        image_sticker["id"], message_id=message_id, placement={"rotation": 45, "scale": 0.01}
    )
    assert moved.success is True
    assert moved.status == "updated"
    assert moved.trace_id
    tenant.client.messages.update_sticker_placement(
        emoji_sticker["id"], message_id=message_id, placement={"y": 1}
    )
    image_sticker, emoji_sticker = _raw_reactions(tenant, message_id)
    # Omitted fields keep their values; the scale is clamped, not refused.
    assert image_sticker["placement"] == {"x": 0.5, "y": -0.5, "scale": 0.05, "rotation": 45.0}
    assert emoji_sticker["placement"] == {"x": 0.0, "y": 1.0, "scale": 0.5, "rotation": 0.0}
    # The phones see the move.
    tenant.sim.advance(0)
    (shown,) = [m for m in tenant.sim.screen("+14155550181") if m["message_id"] == message_id]
    assert [r["placement"] for r in shown["reactions"]] == [
        image_sticker["placement"],
        emoji_sticker["placement"],
    ]


def test_only_stickers_move(tenant: Tenant, server: RunningServer) -> None:
    message_id = _message(tenant)
    tenant.client.messages.add_reaction(message_id, operation="add", type="love")
    tenant.client.messages.add_reaction(message_id, operation="add", type="sticker", emoji="🔥")
    tapback, sticker = _raw_reactions(tenant, message_id)
    assert tapback["placement"] is None

    def patch(reaction_id: str, target: str = message_id) -> httpx.Response:
        return tenant.http.patch(
            f"/v3/messages/{target}/reactions/{reaction_id}", json={"placement": {"x": 0.1}}
        )

    refused = patch(tapback["id"])
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == 1005
    assert patch("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e").status_code == 404
    assert patch(sticker["id"], _message(tenant)).status_code == 404  # another message's id
    missing = tenant.http.patch(f"/v3/messages/{message_id}/reactions/{sticker['id']}", json={})
    assert missing.status_code == 400

    # A sticker peeled before placement was recorded (migration 0012 leaves it NULL).
    async def forget_placement() -> None:
        async with server.services.storage.write() as repos:
            await repos.conn.execute(
                update(reactions).where(reactions.c.id == sticker["id"]).values(placement=None)
            )

    server.call(forget_placement)
    with pytest.raises(linq.NotFoundError) as legacy:
        tenant.client.messages.update_sticker_placement(
            sticker["id"], message_id=message_id, placement={"x": 0.1}
        )
    body: Any = legacy.value.response.json()
    assert body["error"]["code"] == 2002
    assert _raw_reactions(tenant, message_id)[1]["placement"] is None


def test_placement_goes_with_stickers_only(tenant: Tenant) -> None:
    message_id = _message(tenant)
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.messages.add_reaction(
            message_id, operation="add", type="like", placement={"x": 0.2}
        )
    body: Any = refused.value.response.json()
    assert body["error"]["code"] == 1005
    assert _reactions(tenant, message_id) == []


def test_a_foreign_message_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    message_id = _message(tenant)
    tenant.client.messages.add_reaction(message_id, operation="add", type="sticker", emoji="🔥")
    (sticker,) = _raw_reactions(tenant, message_id)
    with pytest.raises(linq.NotFoundError):
        other_tenant.client.messages.update_sticker_placement(
            sticker["id"], message_id=message_id, placement={"x": 0.1}
        )
