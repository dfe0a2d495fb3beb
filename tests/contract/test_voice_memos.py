"""Voice memos: audio only, 10 MB, from a URL or an attachment, with their duration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import linq
import pytest

from tests.support.files import PDF, serving, wav
from tests.support.tenant import Tenant


@pytest.fixture
def chat_id(tenant: Tenant) -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=["+14155555001"], message={"parts": [{"type": "text", "value": "hi"}]}
    )
    return created.chat.id


@pytest.fixture
def files(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "memo.wav").write_bytes(wav(2.5))
    (tmp_path / "doc.pdf").write_bytes(PDF)
    with serving(tmp_path) as base:
        yield base


def _attachment(tenant: Tenant, data: bytes, filename: str, content_type: Any) -> str:
    created = tenant.client.attachments.create(
        filename=filename, content_type=content_type, size_bytes=len(data)
    )
    httpx.put(created.upload_url, content=data, headers=created.required_headers).raise_for_status()
    return created.attachment_id


def test_a_voice_memo_from_an_attachment(tenant: Tenant, chat_id: str) -> None:
    attachment_id = _attachment(tenant, wav(1.0), "memo.wav", "audio/x-wav")
    sent = tenant.client.chats.send_voicememo(chat_id, attachment_id=attachment_id)
    memo = sent.voice_memo
    assert memo.chat.id == chat_id
    assert memo.from_ == tenant.line
    assert memo.to == ["+14155555001"]
    assert memo.status == "queued"
    assert (memo.voice_memo.id, memo.voice_memo.duration_ms) == (attachment_id, 1000)
    assert httpx.get(memo.voice_memo.url).content == wav(1.0)
    message: Any = tenant.client.messages.retrieve(memo.id)
    assert message.parts[0].type == "media"
    tenant.sim.advance(0)
    assert tenant.client.messages.retrieve(memo.id).delivery_status == "delivered"


def test_a_voice_memo_from_a_url(tenant: Tenant, chat_id: str, files: str) -> None:
    memo = tenant.client.chats.send_voicememo(chat_id, voice_memo_url=f"{files}/memo.wav")
    assert memo.voice_memo.voice_memo.duration_ms == 2500
    assert memo.voice_memo.voice_memo.mime_type == "audio/x-wav"


def test_only_audio_is_a_voice_memo(tenant: Tenant, chat_id: str, files: str) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.send_voicememo(chat_id, voice_memo_url=f"{files}/doc.pdf")
    assert refused.value.code == 5004


@pytest.mark.parametrize(
    "sources", [{}, {"voice_memo_url": "https://x.test/a.mp3", "attachment_id": "x"}]
)
def test_exactly_one_source(tenant: Tenant, chat_id: str, sources: dict[str, Any]) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.send_voicememo(chat_id, **sources)
    assert refused.value.code == 1005


def _m4a_without_moov() -> bytes:
    """An ISO media file whose header parses as M4A but that has no ``moov`` box."""
    ftyp = (20).to_bytes(4, "big") + b"ftypM4A " + bytes(4) + b"M4A "
    return ftyp + (24).to_bytes(4, "big") + b"mdat" + bytes(16)


def test_audio_whose_duration_cannot_be_read_is_sent_without_one(
    tenant: Tenant, chat_id: str
) -> None:
    attachment_id = _attachment(tenant, _m4a_without_moov(), "memo.m4a", "audio/x-m4a")
    sent = tenant.client.chats.send_voicememo(chat_id, attachment_id=attachment_id)
    assert sent.voice_memo.voice_memo.duration_ms is None
    assert tenant.client.messages.retrieve(sent.voice_memo.id).parts
