"""The inbox and a conversation in a real browser: live bubbles, ticks, reactions, groups."""

from __future__ import annotations

import struct
import zlib

import httpx
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.server import RunningServer
from tests.support.tenant import Tenant, magic

TIMEOUT = 5_000


def _live(page: Page) -> None:
    """Wait until the page listens to live updates."""
    expect(page.locator("[data-live-status].on")).to_be_visible(timeout=TIMEOUT)


def _open(page: Page, server: RunningServer, tenant: Tenant, path: str) -> None:
    page.goto(f"{server.base_url}{path}?account={tenant.account_id}")
    _live(page)


def _png(width: int = 200, height: int = 120) -> bytes:
    """A real PNG a browser draws (a sunset gradient), made without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes((255, 120 + y // 2, 60 + y, 255)) * width for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _upload_png(tenant: Tenant) -> str:
    data = _png()
    created = tenant.client.attachments.create(
        filename="sunset.png", content_type="image/png", size_bytes=len(data)
    )
    httpx.put(created.upload_url, content=data, headers=created.required_headers).raise_for_status()
    return created.attachment_id


def test_a_message_sent_with_the_sdk_appears_live_and_its_ticks_move(
    page: Page, server: RunningServer, tenant: Tenant
) -> None:
    echo = magic("05", "628")
    _open(page, server, tenant, "/console")
    expect(page.get_by_text("No chats yet")).to_be_visible(timeout=TIMEOUT)

    created = tenant.client.chats.create(
        from_=tenant.line, to=[echo], message={"parts": [{"type": "text", "value": "Hi bot 👋"}]}
    )
    row = page.locator(f'[data-chat-id="{created.chat.id}"]')
    expect(row).to_contain_text("Hi bot 👋", timeout=TIMEOUT)
    row.get_by_role("link").click()
    _live(page)

    bubble = page.locator(f"#m-{created.chat.message.id}")
    expect(bubble).to_contain_text("Hi bot 👋", timeout=TIMEOUT)
    ticks = bubble.locator(".status-label")
    expect(ticks).to_have_text("Queued")
    tenant.sim.advance(0)
    expect(ticks).to_have_text("Delivered", timeout=TIMEOUT)
    tenant.sim.advance(1)
    expect(ticks).to_have_text("Read", timeout=TIMEOUT)
    tenant.sim.advance(0.5)  # the echo bot starts typing its answer
    typing = page.locator("[data-typing]")
    expect(typing).to_have_text(f"{echo} is typing…", timeout=TIMEOUT)
    tenant.sim.advance(1.5)
    expect(page.locator(".bubble-row.in").last).to_contain_text("echo: Hi bot 👋", timeout=TIMEOUT)
    expect(typing).to_be_hidden(timeout=TIMEOUT)

    tenant.client.messages.add_reaction(created.chat.message.id, operation="add", type="love")
    expect(bubble.locator('[data-reaction="love"]')).to_be_visible(timeout=TIMEOUT)

    sent = tenant.client.chats.messages.send(
        created.chat.id,
        message={
            "parts": [
                {"type": "text", "value": "Here is the view from the office"},
                {"type": "media", "attachment_id": _upload_png(tenant)},
            ]
        },
    )
    tenant.sim.advance(0)  # a message in an existing chat shows once it is sent
    image = page.locator(f"#m-{sent.message.id} img")
    expect(image).to_be_visible(timeout=TIMEOUT)
    tenant.sim.settle(3)
    expect(page.locator(".bubble-row.in").last).to_contain_text(
        "echo: Here is the view", timeout=TIMEOUT
    )
    expect(page.locator(f"#m-{sent.message.id} .status-label")).to_have_text(
        "Read", timeout=TIMEOUT
    )
    screenshot(page, "inbox-conversation")

    # Back in the inbox, a message in another chat moves that chat to the top, live.
    other = "+14155559001"
    tenant.sim.send(other, to=tenant.line, parts=[{"type": "text", "value": "Are you free?"}])
    page.get_by_role("link", name="← Inbox").click()
    _live(page)
    rows = page.locator(".chat-row")
    expect(rows.first).to_contain_text(other, timeout=TIMEOUT)
    tenant.sim.advance(1)
    tenant.client.chats.messages.send(
        created.chat.id, message={"parts": [{"type": "text", "value": "One more thing"}]}
    )
    tenant.sim.advance(0)
    expect(rows.first).to_contain_text("One more thing", timeout=TIMEOUT)
    expect(rows.nth(1)).to_contain_text("Are you free?")
    expect(rows.nth(1)).to_have_class("chat-row unread")
    screenshot(page, "inbox")


def test_a_device_reaction_shows_on_the_bubble(
    page: Page, server: RunningServer, tenant: Tenant
) -> None:
    created = tenant.client.chats.create(
        from_=tenant.line,
        to=[magic("08", "628")],
        message={"parts": [{"type": "text", "value": "React to me"}]},
    )
    _open(page, server, tenant, f"/console/chats/{created.chat.id}")
    bubble = page.locator(f"#m-{created.chat.message.id}")
    expect(bubble).to_contain_text("React to me", timeout=TIMEOUT)
    tenant.sim.settle(1)
    expect(bubble.locator('[data-reaction="love"]')).to_be_visible(timeout=TIMEOUT)
    expect(bubble.locator('[data-reaction="love"]')).to_have_attribute(
        "title", f"love from {magic('08', '628')}"
    )


def test_a_group_chat_shows_its_participants_live(
    page: Page, server: RunningServer, tenant: Tenant
) -> None:
    members = ["+14155559101", "+14155559102"]
    created = tenant.client.chats.create(
        from_=tenant.line, to=members, message={"parts": [{"type": "text", "value": "Welcome all"}]}
    )
    _open(page, server, tenant, f"/console/chats/{created.chat.id}")
    participants = page.get_by_role("list", name="Participants")
    for handle in [*members, tenant.line]:
        expect(participants).to_contain_text(handle, timeout=TIMEOUT)
    tenant.client.chats.participants.add(created.chat.id, handle="+14155559103")
    expect(participants).to_contain_text("+14155559103", timeout=TIMEOUT)
    tenant.client.chats.update(created.chat.id, display_name="Book club")
    expect(page.locator("#chat-info h2")).to_have_text("Book club", timeout=TIMEOUT)
