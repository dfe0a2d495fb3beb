"""User files are served as sandboxed downloads, never as pages of the API's origin, and
unrecognised bytes are never served under an image's type (issue #10, item 10)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.files import PNG
from tests.support.tenant import Tenant

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<!doctype html><script>fetch('/v3/chats')</script>"


def _upload(tenant: Tenant, data: bytes, filename: str, content_type: Any) -> Any:
    created = tenant.client.attachments.create(
        filename=filename, content_type=content_type, size_bytes=len(data)
    )
    return created, httpx.put(created.upload_url, content=data, headers=created.required_headers)


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (SVG, "logo.svg", "image/svg+xml"),
        (HTML, "page.html", "text/html"),
        (PNG, 'pic "1"; x=y.png', "image/png"),
        (PNG, "résumé 写真.png", "image/png"),
    ],
    ids=["svg", "html", "quotes-in-name", "unicode-name"],
)
def test_a_user_file_is_served_as_a_sandboxed_download_under_its_own_name(
    tenant: Tenant, data: bytes, filename: str, content_type: str
) -> None:
    created, uploaded = _upload(tenant, data, filename, content_type)
    assert uploaded.status_code == 200, uploaded.text
    url = tenant.client.attachments.retrieve(created.attachment_id).download_url
    assert url
    download = httpx.get(url)
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-type"].startswith(content_type)
    assert download.headers["x-content-type-options"] == "nosniff"
    csp = download.headers["content-security-policy"]
    assert "sandbox" in csp
    assert "default-src 'none'" in csp
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    assert f"filename*=UTF-8''{quote(filename, safe='')}" in disposition
    assert disposition.count('"') == 2  # the ASCII fallback cannot break out of its quotes


def test_unrecognised_bytes_declared_as_an_image_are_refused(tenant: Tenant) -> None:
    created, uploaded = _upload(tenant, bytes(range(7, 250)) * 4, "noise.png", "image/png")
    assert uploaded.status_code == 400
    assert uploaded.json()["error"]["code"] == 5004
    attachment = tenant.client.attachments.retrieve(created.attachment_id)
    assert (attachment.status, attachment.download_url) == ("failed", None)
