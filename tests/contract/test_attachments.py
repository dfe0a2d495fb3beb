"""Attachments: pre-upload, signed upload and download links, sniffing, media parts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import linq
import pytest

from tests.support.files import PDF, PNG, serving
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, create_tenant


def _upload(tenant: Tenant, data: bytes, filename: str, content_type: Any) -> Any:
    created = tenant.client.attachments.create(
        filename=filename, content_type=content_type, size_bytes=len(data)
    )
    response = httpx.put(created.upload_url, content=data, headers=created.required_headers)
    return created, response


@pytest.fixture
def files(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "doc.pdf").write_bytes(PDF)
    (tmp_path / "fake.png").write_bytes(b"this is not a png at all")
    (tmp_path / "big.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024))
    with serving(tmp_path) as base:
        yield base


def test_upload_then_read_then_download(tenant: Tenant) -> None:
    created, response = _upload(tenant, PNG, "pic.png", "image/png")
    assert created.http_method == "PUT"
    assert created.required_headers == {
        "Content-Type": "image/png",
        "Content-Length": str(len(PNG)),
    }
    assert response.status_code == 200
    attachment = tenant.client.attachments.retrieve(created.attachment_id)
    assert (attachment.status, attachment.size_bytes, attachment.filename) == (
        "complete",
        len(PNG),
        "pic.png",
    )
    assert attachment.download_url
    download = httpx.get(attachment.download_url)
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"


def test_a_pending_attachment_has_no_download_and_cannot_be_sent(tenant: Tenant) -> None:
    created = tenant.client.attachments.create(
        filename="later.png", content_type="image/png", size_bytes=len(PNG)
    )
    assert tenant.client.attachments.retrieve(created.attachment_id).status == "pending"
    with pytest.raises(linq.ConflictError) as refused:
        tenant.client.chats.create(
            from_=tenant.line,
            to=["+14155554001"],
            message={"parts": [{"type": "media", "attachment_id": created.attachment_id}]},
        )
    assert refused.value.code == 2007


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"filename": "a.flac", "content_type": "audio/flac", "size_bytes": 10}, 5004),
        ({"filename": "a.exe", "content_type": "application/x-msdownload", "size_bytes": 10}, 5004),
        ({"filename": "a.png", "content_type": "image/png", "size_bytes": 104_857_601}, 5005),
        ({"filename": "a.png", "content_type": "image/png", "size_bytes": 0}, 5005),
    ],
)
def test_creation_rules(tenant: Tenant, body: dict[str, Any], code: int) -> None:
    with pytest.raises(linq.APIStatusError) as refused:
        tenant.client.attachments.create(**body)
    assert refused.value.code == code


def test_bytes_that_are_not_what_they_claim_are_refused_and_marked_failed(tenant: Tenant) -> None:
    created, response = _upload(tenant, b"plain text, not an image", "x.png", "image/png")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 5006
    assert tenant.client.attachments.retrieve(created.attachment_id).status == "failed"


def test_executables_are_refused_whatever_they_claim(tenant: Tenant) -> None:
    created, response = _upload(tenant, b"MZ\x90\x00" + b"\x00" * 60, "x.pdf", "application/pdf")
    assert response.json()["error"]["code"] == 5004
    assert tenant.client.attachments.retrieve(created.attachment_id).status == "failed"


def test_the_upload_must_match_what_was_declared(tenant: Tenant) -> None:
    created = tenant.client.attachments.create(
        filename="pic.png", content_type="image/png", size_bytes=len(PNG)
    )
    wrong_type = httpx.put(
        created.upload_url,
        content=PNG,
        headers={"Content-Type": "image/jpeg", "Content-Length": str(len(PNG))},
    )
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"]["code"] == 5006
    too_long = httpx.put(
        created.upload_url, content=PNG + b"extra", headers={"Content-Type": "image/png"}
    )
    assert too_long.status_code == 413
    assert too_long.json()["error"]["code"] == 5005


def test_upload_links_are_signed(tenant: Tenant) -> None:
    created = tenant.client.attachments.create(
        filename="pic.png", content_type="image/png", size_bytes=len(PNG)
    )
    tampered = created.upload_url.replace("sig=", "sig=0")
    response = httpx.put(tampered, content=PNG, headers=created.required_headers)
    assert response.status_code == 403
    tenant.sim.advance(15 * 60 + 1)
    expired = httpx.put(created.upload_url, content=PNG, headers=created.required_headers)
    assert expired.status_code == 403


def test_media_by_attachment_id_and_delete(tenant: Tenant) -> None:
    created, _ = _upload(tenant, PNG, "pic.png", "image/png")
    sent = tenant.client.chats.create(
        from_=tenant.line,
        to=["+14155554002"],
        message={"parts": [{"type": "media", "attachment_id": created.attachment_id}]},
    )
    part: Any = sent.chat.message.parts[0]
    assert (part.type, part.id, part.filename, part.mime_type, part.size_bytes) == (
        "media",
        created.attachment_id,
        "pic.png",
        "image/png",
        len(PNG),
    )
    assert httpx.get(part.url).content == PNG
    tenant.client.attachments.delete(created.attachment_id)
    assert httpx.get(part.url).status_code == 404
    with pytest.raises(linq.NotFoundError) as gone:
        tenant.client.attachments.retrieve(created.attachment_id)
    assert gone.value.code == 2003
    # The message keeps its part; the bytes are gone.
    message: Any = tenant.client.messages.retrieve(sent.chat.message.id)
    assert message.parts[0].id == created.attachment_id


def test_attachment_ids_are_private_to_their_account(tenant: Tenant, server: RunningServer) -> None:
    created, _ = _upload(tenant, PNG, "pic.png", "image/png")
    other = create_tenant(server)
    try:
        with pytest.raises(linq.NotFoundError):
            other.client.attachments.retrieve(created.attachment_id)
        with pytest.raises(linq.NotFoundError):
            other.client.attachments.delete(created.attachment_id)
        with pytest.raises(linq.NotFoundError):
            other.client.chats.create(
                from_=other.line,
                to=["+14155554003"],
                message={"parts": [{"type": "media", "attachment_id": created.attachment_id}]},
            )
    finally:
        other.client.close()
        other.http.close()


def test_delete_wants_a_uuid(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.attachments.delete("not-a-uuid")
    assert refused.value.code == 1005


def test_media_by_url_is_fetched_checked_and_kept(tenant: Tenant, files: str) -> None:
    sent = tenant.client.chats.create(
        from_=tenant.line,
        to=["+14155554004"],
        message={"parts": [{"type": "media", "url": f"{files}/doc.pdf"}]},
    )
    part: Any = sent.chat.message.parts[0]
    assert (part.filename, part.mime_type, part.size_bytes) == (
        "doc.pdf",
        "application/pdf",
        len(PDF),
    )
    assert httpx.get(part.url).content == PDF
    assert tenant.client.attachments.retrieve(part.id).status == "complete"


@pytest.mark.parametrize(
    ("path", "code"),
    [("missing.pdf", 5002), ("fake.png", 5006), ("big.pdf", 5005), ("tool.exe", 5004)],
)
def test_media_by_url_failures(tenant: Tenant, files: str, path: str, code: int) -> None:
    with pytest.raises(linq.APIStatusError) as refused:
        tenant.client.chats.create(
            from_=tenant.line,
            to=["+14155554005"],
            message={"parts": [{"type": "media", "url": f"{files}/{path}"}]},
        )
    assert refused.value.code == code
