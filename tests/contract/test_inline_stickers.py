"""Inline stickers in text parts: image references, ranges, limits."""

from __future__ import annotations

from typing import Any

import httpx
import linq
import pytest

from tests.support.files import PDF, PNG
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant


def _image(tenant: Tenant, data: bytes = PNG, content_type: Any = "image/png") -> Any:
    name = "s.png" if content_type == "image/png" else "d.pdf"
    created = tenant.client.attachments.create(
        filename=name, content_type=content_type, size_bytes=len(data)
    )
    httpx.put(created.upload_url, content=data, headers=created.required_headers).raise_for_status()
    return tenant.client.attachments.retrieve(created.attachment_id)


def _send(tenant: Tenant, value: str, stickers: list[dict[str, Any]], **extra: Any) -> Any:
    part: Any = {"type": "text", "value": value, "inline_stickers": stickers, **extra}
    return tenant.client.chats.create(
        from_=tenant.line, to=["+14155559501"], message={"parts": [part]}
    )


def test_stickers_by_attachment_and_by_download_url(tenant: Tenant) -> None:
    image = _image(tenant)
    sent = _send(
        tenant,
        "cake 🎂 and pie",
        [
            {"range": [5, 7], "attachment_id": image.id},
            {"range": [12, 15], "url": image.download_url},
        ],
    )
    part: Any = sent.chat.message.parts[0]
    assert part.value == "cake 🎂 and pie"
    stickers = part.inline_stickers
    assert [(s.range, s.id, s.file_name, s.mime_type) for s in stickers] == [
        ([5, 7], image.id, "s.png", "image/png"),
        ([12, 15], image.id, "s.png", "image/png"),
    ]
    assert httpx.get(stickers[0].url).content == PNG


@pytest.mark.parametrize(
    ("value", "sticker", "extra"),
    [
        ("cake 🎂", {"range": [5, 6]}, {}),  # splits the emoji's surrogate pair
        ("hello", {"range": [0, 9]}, {}),  # beyond the text
        ("hello", {"range": [0, 2]}, {"mention": "+14155559502"}),  # not with a mention
        ("hello", {"range": [0, 2]}, {"text_decorations": [{"range": [1, 3], "style": "bold"}]}),
    ],
)
def test_sticker_rules(
    tenant: Tenant, value: str, sticker: dict[str, Any], extra: dict[str, Any]
) -> None:
    image = _image(tenant)
    with pytest.raises(linq.BadRequestError) as refused:
        _send(tenant, value, [{**sticker, "attachment_id": image.id}], **extra)
    assert refused.value.code == 1004


def test_overlapping_stickers_and_double_references_are_refused(tenant: Tenant) -> None:
    image = _image(tenant)
    for stickers in (
        [
            {"range": [0, 2], "attachment_id": image.id},
            {"range": [1, 3], "attachment_id": image.id},
        ],
        [{"range": [0, 2], "attachment_id": image.id, "url": image.download_url}],
    ):
        with pytest.raises(linq.BadRequestError) as refused:
            _send(tenant, "hello", stickers)
        assert refused.value.code == 1004


def test_at_most_ten_distinct_images(tenant: Tenant) -> None:
    images = [_image(tenant) for _ in range(11)]
    text = "x" * 22
    ten = [
        {"range": [2 * i, 2 * i + 1], "attachment_id": img.id} for i, img in enumerate(images[:10])
    ]
    _send(tenant, text, [*ten, {"range": [20, 21], "attachment_id": images[0].id}])  # a copy: fine
    with pytest.raises(linq.BadRequestError) as refused:
        _send(tenant, text, [*ten, {"range": [20, 21], "attachment_id": images[10].id}])
    assert refused.value.code == 1004


def test_sticker_images_must_be_your_images(tenant: Tenant, server: RunningServer) -> None:
    document = _image(tenant, PDF, "application/pdf")
    with pytest.raises(linq.BadRequestError) as not_image:
        _send(tenant, "hello", [{"range": [0, 2], "attachment_id": document.id}])
    assert not_image.value.code == 5004
    other = create_tenant(server)
    try:
        foreign = _image(other)
        with pytest.raises(linq.NotFoundError):
            _send(tenant, "hello", [{"range": [0, 2], "url": foreign.download_url}])
    finally:
        other.client.close()
        other.http.close()
