"""Chat backgrounds: set (color, dynamic, photo by URL) / remove, and their webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import linq
import pytest

from tests.support.files import PDF, image_bytes, serving
from tests.support.receiver import Receiver
from tests.support.tenant import Tenant, magic

HI: Any = {"parts": [{"type": "text", "value": "hi"}]}
CLASSES: dict[str, Any] = {
    "chat.background_updated": linq.types.ChatBackgroundUpdatedWebhookEvent,
    "chat.background_update_failed": linq.types.ChatBackgroundUpdateFailedWebhookEvent,
}
EVENTS: Any = list(CLASSES)


@pytest.fixture
def files(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "bg.png").write_bytes(image_bytes(30, 60, "PNG"))
    (tmp_path / "bg.pdf").write_bytes(PDF)
    (tmp_path / "fake.png").write_bytes(PDF)
    with serving(tmp_path) as base:
        yield base


def _chat(tenant: Tenant, to: str = "+14155550171") -> str:
    return tenant.client.chats.create(from_=tenant.line, to=[to], message=HI).chat.id


def _events(tenant: Tenant, receiver: Receiver, secret: str, count: int) -> list[Any]:
    """The first ``count`` webhooks, signature checked, each as its event type's SDK class
    (``unwrap`` picks the first class whose shape fits: a background failure has the shape
    of a group name failure)."""
    tenant.sim.advance(0)
    events = []
    for hit in receiver.wait_for(count):
        unwrapped = tenant.client.webhooks.unwrap(
            hit.body.decode(), headers=hit.headers, key=secret
        )
        kind = CLASSES[unwrapped.event_type]
        events.append(kind.model_validate(hit.event))
    return events


def _subscribe(tenant: Tenant, receiver: Receiver) -> str:
    created = tenant.client.webhook_subscriptions.create(
        target_url=receiver.url(), subscribed_events=EVENTS
    )
    return str(created.signing_secret)


def test_color_dynamic_and_removal_reach_the_webhook(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver)
    chat_id = _chat(tenant)
    background = tenant.client.chats.background
    changes: list[Any] = [
        lambda: background.set(chat_id, type="color", variant="mango"),
        lambda: background.set(chat_id, type="color", shades=["#f2c4e1", "#F5A623"]),
        lambda: background.set(chat_id, type="dynamic", style="aurora", variant="pink"),
        lambda: background.remove(chat_id),
    ]
    for count, change in enumerate(changes, 1):
        assert change() is None
        events = _events(tenant, receiver, secret, count)  # one at a time: webhooks may race
    assert all(isinstance(e, linq.types.ChatBackgroundUpdatedWebhookEvent) for e in events)
    seen = [
        (b.type, b.variant, b.style, b.shades, b.image_url) if b else None
        for b in (e.data.background for e in events)
    ]
    assert seen == [
        ("color", "mango", None, None, None),
        ("color", "custom", None, ["#F2C4E1", "#F5A623"], None),
        ("dynamic", "pink", "aurora", None, None),
        None,
    ]
    first = events[0].data
    assert first.chat.id == chat_id
    assert first.chat.is_group is False
    assert first.actor_handle.is_me is True
    assert first.actor_handle.handle == tenant.line
    assert first.chat.owner_handle.handle == tenant.line


def test_a_photo_is_fetched_and_rehosted(tenant: Tenant, receiver: Receiver, files: str) -> None:
    secret = _subscribe(tenant, receiver)
    chat_id = _chat(tenant)
    response = tenant.http.post(
        f"/v3/chats/{chat_id}/background", json={"type": "photo", "image_url": f"{files}/bg.png"}
    )
    assert (response.status_code, response.content) == (202, b"")
    (event,) = _events(tenant, receiver, secret, 1)
    image_url = event.data.background.image_url
    assert event.data.background.type == "photo"
    assert not image_url.startswith(files)
    assert httpx.get(image_url).content == image_bytes(30, 60, "PNG")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("missing.png", 5007),  # the server answers 404
        ("bg.pdf", 5006),  # a PDF, not an image
        ("fake.png", 5006),  # a PDF that calls itself a PNG
    ],
)
def test_photos_that_cannot_be_used_are_refused(
    tenant: Tenant, receiver: Receiver, files: str, path: str, code: int
) -> None:
    _subscribe(tenant, receiver)
    chat_id = _chat(tenant)
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.background.set(chat_id, type="photo", image_url=f"{files}/{path}")
    body: Any = refused.value.response.json()
    assert (refused.value.status_code, body["error"]["code"]) == (400, code)
    tenant.sim.advance(0)
    assert tenant.sim.events("chat.background_updated") == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "color", "variant": "teal"}, 1005),
        ({"type": "color"}, 1001),  # custom needs shades
        ({"type": "color", "variant": "custom", "shades": ["#FFFFFF"]}, 1005),
        ({"type": "color", "shades": ["#FFFFFF", "red"]}, 1005),
        ({"type": "color", "variant": "mango", "image_url": "https://x.test/a.png"}, 1005),
        ({"type": "dynamic", "style": "sky"}, 1001),
        ({"type": "dynamic", "variant": "dusk"}, 1001),
        ({"type": "dynamic", "style": "water", "variant": "dusk"}, 1005),
        ({"type": "dynamic", "style": "glitter", "variant": "gold"}, 1005),
        ({"type": "photo"}, 1001),
        ({"type": "photo", "image_url": "https://x.test/a.png", "variant": "mango"}, 1005),
    ],
)
def test_invalid_backgrounds_are_refused(tenant: Tenant, body: dict[str, Any], code: int) -> None:
    chat_id = _chat(tenant)
    response = tenant.http.post(f"/v3/chats/{chat_id}/background", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["success"] is False
    assert error["error"]["code"] == code
    tenant.sim.advance(0)
    assert tenant.sim.events("chat.background_updated") == []


def test_an_unknown_type_is_refused(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    response = tenant.http.post(f"/v3/chats/{chat_id}/background", json={"type": "gradient"})
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_the_simulator_can_fail_a_background(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver)
    chat_id = _chat(tenant, "+14155550172")
    tenant.sim.configure("+14155550172", fail_background=4001)
    tenant.client.chats.background.set(chat_id, type="color", variant="plum")
    (event,) = _events(tenant, receiver, secret, 1)
    assert isinstance(event, linq.types.ChatBackgroundUpdateFailedWebhookEvent)
    assert (event.data.chat_id, event.data.error_code) == (chat_id, 4001)
    assert event.data.failed_at is not None
    bad = tenant.http.put("/sim/v1/devices/+14155550172", json={"fail_background": 4002})
    assert bad.status_code == 400


def test_sms_chats_accept_and_change_nothing(
    tenant: Tenant, receiver: Receiver, files: str
) -> None:
    _subscribe(tenant, receiver)
    chat_id = _chat(tenant, magic("01"))  # an SMS-only phone
    tenant.client.chats.background.set(chat_id, type="color", variant="mango")
    # Not even fetched: a photo that does not exist is accepted too.
    tenant.client.chats.background.set(chat_id, type="photo", image_url=f"{files}/missing.png")
    tenant.client.chats.background.remove(chat_id)
    tenant.sim.settle(2)
    assert receiver.hits == []
    assert tenant.sim.events("chat.background_updated") == []


def test_unknown_and_foreign_chats_are_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    for client, target in (
        (tenant.client, "550e8400-e29b-41d4-a716-446655440000"),
        (other_tenant.client, chat_id),
    ):
        with pytest.raises(linq.NotFoundError):
            client.chats.background.set(target, type="color", variant="mango")
        with pytest.raises(linq.NotFoundError):
            client.chats.background.remove(target)


def test_a_phone_in_the_chat_changes_the_background(tenant: Tenant, receiver: Receiver) -> None:
    secret = _subscribe(tenant, receiver)
    chat_id = _chat(tenant, "+14155550173")

    def device(handle: str, **body: Any) -> httpx.Response:
        return tenant.http.post(
            f"/sim/v1/devices/{handle}/background", json={"chat_id": chat_id, **body}
        )

    assert device("+14155550173", type="dynamic", style="sky", variant="dawn").status_code == 204
    (event,) = _events(tenant, receiver, secret, 1)
    assert event.data.actor_handle.handle == "+14155550173"
    assert event.data.actor_handle.is_me is False
    assert (event.data.background.style, event.data.background.variant) == ("sky", "dawn")
    assert device("+14155550173", type=None).status_code == 204
    assert _events(tenant, receiver, secret, 2)[1].data.background is None
    refused = device("+14155550173", type="dynamic", style="sky", variant="dark")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, 1005)
    stranger = device("+14155550174", type="color", variant="lime")
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, 2005)
    sms_chat = _chat(tenant, magic("01"))
    on_sms = tenant.http.post(
        f"/sim/v1/devices/{magic('01')}/background",
        json={"chat_id": sms_chat, "type": "color", "variant": "lime"},
    )
    assert (on_sms.status_code, on_sms.json()["error"]["code"]) == (409, 2017)
    assert len(receiver.hits) == 2
