"""How long attachment links live: the attachments API's ``download_url`` (and a voice memo's
and an inline sticker's ``url``) is stable until the attachment is deleted; a media part's
``url`` is presigned and expires in an hour, as the contract says of each."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import linq
import pytest

from tests.support.files import PNG, wav
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, tenant_on

HOUR = 3600


def _upload(
    tenant: Tenant, data: bytes = PNG, name: str = "pic.png", kind: Any = "image/png"
) -> Any:
    created = tenant.client.attachments.create(
        filename=name, content_type=kind, size_bytes=len(data)
    )
    httpx.put(created.upload_url, content=data, headers=created.required_headers).raise_for_status()
    return created


def _media(url: str) -> Any:
    return {"parts": [{"type": "media", "url": url}]}


def _with_query(url: str, **changes: str | None) -> str:
    """``url`` with query parameters replaced (a value None removes one)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_download_url_outlives_the_hour_and_dies_with_the_attachment(tenant: Tenant) -> None:
    created = _upload(tenant)
    stored = created.download_url
    retrieved = tenant.client.attachments.retrieve(created.attachment_id).download_url
    assert retrieved == stored  # one stable link, not a fresh signature per read
    tenant.sim.advance(2 * HOUR)
    download = httpx.get(stored)
    assert (download.status_code, download.content) == (200, PNG)
    tenant.client.attachments.delete(created.attachment_id)
    gone = httpx.get(stored)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, 2003)


def test_a_media_parts_url_still_expires_in_an_hour(tenant: Tenant) -> None:
    created = _upload(tenant)
    sent = tenant.client.chats.create(
        from_=tenant.line,
        to=["+14155557001"],
        message={"parts": [{"type": "media", "attachment_id": created.attachment_id}]},
    )
    part: Any = sent.chat.message.parts[0]
    assert part.url != created.download_url
    tenant.sim.advance(HOUR - 1)
    assert httpx.get(part.url).content == PNG
    tenant.sim.advance(2)
    expired = httpx.get(part.url)
    assert (expired.status_code, expired.json()["error"]["code"]) == (403, 2005)
    # Reading the message again signs a fresh one.
    reread: Any = tenant.client.messages.retrieve(sent.chat.message.id)
    again = reread.parts[0]
    assert httpx.get(again.url).content == PNG


def test_an_expiring_link_cannot_be_made_stable_nor_a_stable_one_forged(tenant: Tenant) -> None:
    created = _upload(tenant)
    sent = tenant.client.chats.create(
        from_=tenant.line,
        to=["+14155557002"],
        message={"parts": [{"type": "media", "attachment_id": created.attachment_id}]},
    )
    part: Any = sent.chat.message.parts[0]
    for forged in (
        _with_query(part.url, expires=None),  # the hour's signature without its expiry
        _with_query(created.download_url, expires="99999999999"),
        _with_query(created.download_url, sig="0" * 64),
    ):
        refused = httpx.get(forged)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, 2005), forged


def test_a_stored_download_url_is_sent_as_media_url_hours_later(tenant: Tenant) -> None:
    created = _upload(tenant)
    tenant.sim.advance(HOUR + 1)
    sent = tenant.client.chats.create(
        from_=tenant.line, to=["+14155557003"], message=_media(created.download_url)
    )
    part: Any = sent.chat.message.parts[0]
    # The link names the attachment itself: it is sent as is, not copied into a new one.
    assert (part.id, part.filename, part.mime_type, part.size_bytes) == (
        created.attachment_id,
        "pic.png",
        "image/png",
        len(PNG),
    )
    assert httpx.get(part.url).content == PNG
    tenant.sim.settle(2)
    assert tenant.client.messages.retrieve(sent.chat.message.id).delivery_status == "delivered"


def test_a_deleted_attachments_download_url_cannot_be_sent(tenant: Tenant) -> None:
    created = _upload(tenant)
    tenant.client.attachments.delete(created.attachment_id)
    with pytest.raises(linq.NotFoundError) as refused:
        tenant.client.chats.create(
            from_=tenant.line, to=["+14155557004"], message=_media(created.download_url)
        )
    assert (refused.value.status_code, refused.value.code) == (404, 2003)
    assert tenant.client.chats.list_chats().chats == []


def test_another_accounts_download_url_is_refused_before_sending(
    tenant: Tenant, server: RunningServer
) -> None:
    with tenant_on(server) as other:
        foreign = _upload(other)
    with pytest.raises(linq.NotFoundError) as refused:
        tenant.client.chats.create(
            from_=tenant.line, to=["+14155557005"], message=_media(foreign.download_url)
        )
    assert (refused.value.status_code, refused.value.code) == (404, 2003)
    assert tenant.client.chats.list_chats().chats == []


def test_a_voice_memos_url_is_stable(tenant: Tenant) -> None:
    chat = tenant.client.chats.create(
        from_=tenant.line, to=["+14155557006"], message={"parts": [{"type": "text", "value": "hi"}]}
    ).chat
    created = _upload(tenant, wav(1.0), "memo.wav", "audio/x-wav")
    memo = tenant.client.chats.send_voicememo(chat.id, attachment_id=created.attachment_id)
    tenant.sim.advance(2 * HOUR)
    assert httpx.get(memo.voice_memo.voice_memo.url).content == wav(1.0)


def test_an_inline_stickers_url_is_stable(tenant: Tenant) -> None:
    created = _upload(tenant)
    part: Any = {
        "type": "text",
        "value": "cake 🎂",
        "inline_stickers": [{"range": [5, 7], "attachment_id": created.attachment_id}],
    }
    sent = tenant.client.chats.create(
        from_=tenant.line, to=["+14155557007"], message={"parts": [part]}
    )
    text: Any = sent.chat.message.parts[0]
    (sticker,) = text.inline_stickers
    assert sticker.url == created.download_url
    tenant.sim.advance(2 * HOUR)
    assert httpx.get(sticker.url).content == PNG


def test_only_this_servers_links_name_its_attachments(tenant: Tenant) -> None:
    created = _upload(tenant)
    ours = urlsplit(created.download_url)
    elsewhere = urlunsplit(ours._replace(netloc="files.example.invalid"))
    part: Any = {
        "type": "text",
        "value": "cake 🎂",
        "inline_stickers": [{"range": [5, 7], "url": elsewhere}],
    }
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.create(
            from_=tenant.line, to=["+14155557008"], message={"parts": [part]}
        )
    assert (refused.value.status_code, refused.value.code) == (400, 1004)
