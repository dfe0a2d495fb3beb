"""What a message may contain: parts, effects, decorations, mentions, media, idempotency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import linq
import pytest

from tests.support.files import PNG, serving
from tests.support.server import RunningServer, server_with
from tests.support.tenant import Tenant, tenant_on

FRIEND = "+14155556001"
GROUP = ("+14155556002", "+14155556003")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loopback file server with a PNG (the server fetches media URLs from it)."""
    directory = tmp_path_factory.mktemp("files")
    (directory / "photo.png").write_bytes(PNG)
    with serving(directory) as base:
        yield base


def _text(value: str = "hello", **extra: Any) -> Any:
    return {"type": "text", "value": value, **extra}


def _chat(tenant: Tenant, *to: str) -> str:
    created = tenant.client.chats.create(
        from_=tenant.line, to=list(to or (FRIEND,)), message={"parts": [_text("hi")]}
    )
    tenant.sim.advance(0)
    return created.chat.id


def _send(tenant: Tenant, chat_id: str, message: Any) -> Any:
    return tenant.client.chats.messages.send(chat_id, message=message)


def _refused(tenant: Tenant, chat_id: str, message: Any) -> linq.APIStatusError:
    with pytest.raises(linq.APIStatusError) as refused:
        _send(tenant, chat_id, message)
    return refused.value


def _status_and_code(error: linq.APIStatusError) -> tuple[int, Any]:
    return error.status_code, error.code


def _uploaded_png(tenant: Tenant) -> str:
    created = tenant.client.attachments.create(
        filename="pic.png", content_type="image/png", size_bytes=len(PNG)
    )
    httpx.put(created.upload_url, content=PNG, headers=created.required_headers).raise_for_status()
    return created.attachment_id


# -- parts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"parts": []}, id="no-parts"),
        pytest.param({"parts": [_text("a"), _text("b")]}, id="consecutive-text"),
        pytest.param(
            {"parts": [{"type": "link", "value": "https://example.com"}, _text("see")]},
            id="link-with-text",
        ),
        pytest.param(
            {"parts": [_text("see"), {"type": "link", "value": "https://example.com"}]},
            id="text-with-link",
        ),
        pytest.param({"parts": [_text("x" * 10_001)]}, id="text-10001"),
        pytest.param({"parts": [_text("")]}, id="empty-text"),
        pytest.param(
            {"parts": [{"type": "link", "value": "https://example.com/" + "a" * 2_029}]},
            id="link-2049",
        ),
        pytest.param({"parts": [{"type": "link", "value": "not a url"}]}, id="link-not-a-url"),
        pytest.param({"parts": [{"type": "video", "value": "x"}]}, id="unknown-part-type"),
        pytest.param({"parts": [{"type": "media"}]}, id="media-without-source"),
        pytest.param(
            {
                "parts": [
                    {
                        "type": "media",
                        "url": "https://example.com/a.png",
                        "attachment_id": "00000000-0000-4000-8000-000000000000",
                    }
                ]
            },
            id="media-url-and-attachment",
        ),
        pytest.param(
            {"parts": [{"type": "media", "url": "ftp://example.com/a.png"}]}, id="media-ftp-url"
        ),
        *(
            pytest.param({"parts": [{"type": "media", "url": url}]}, id=f"media-url-{name}")
            for name, url in (
                ("bad-ipv6-literal", "http://[::1/x.png"),
                ("port-above-65535", "http://127.0.0.1:99999/x.png"),
                ("port-not-a-number", "http://127.0.0.1:http/x.png"),
                ("crlf", "http://127.0.0.1/x.png\r\nX-Injected: 1"),
                ("space", "http://127.0.0.1/a b.png"),
                ("nul", "http://127.0.0.1/x\u0000.png"),
                ("invalid-idna", "http://xn--zz.example/x.png"),
                ("no-host", "http:///x.png"),
                ("zone-id", "http://[fe80::1%25eth0]/x.png"),
            )
        ),
        pytest.param(
            {"parts": [_text()], "experience": {"name": "poll", "action": "create"}},
            id="parts-and-experience",
        ),
        pytest.param({"parts": [_text()], "idempotency_key": "k" * 256}, id="key-256"),
        pytest.param({"parts": [_text()], "idempotency_key": ""}, id="key-empty"),
    ],
)
def test_invalid_content_is_400_1004(tenant: Tenant, message: dict[str, Any]) -> None:
    chat_id = _chat(tenant)
    assert _status_and_code(_refused(tenant, chat_id, message)) == (400, 1004)
    assert len(tenant.client.chats.messages.list(chat_id).messages) == 1


def test_a_message_without_parts_is_400_1001(tenant: Tenant) -> None:
    assert _status_and_code(_refused(tenant, _chat(tenant), {})) == (400, 1001)


def test_text_can_surround_media(tenant: Tenant, files: str) -> None:
    parts = [_text("look"), {"type": "media", "url": f"{files}/photo.png"}, _text("nice?")]
    sent = _send(tenant, _chat(tenant), {"parts": parts})
    assert [p.type for p in sent.message.parts] == ["text", "media", "text"]
    assert [sent.message.parts[0].value, sent.message.parts[2].value] == ["look", "nice?"]


@pytest.mark.parametrize(
    "part",
    [
        pytest.param(_text("x" * 10_000), id="text-10000"),
        pytest.param(
            {"type": "link", "value": "https://example.com/" + "a" * 2_028}, id="link-2048"
        ),
    ],
)
def test_the_largest_allowed_part_is_sent_verbatim(tenant: Tenant, part: dict[str, Any]) -> None:
    chat_id = _chat(tenant)
    sent = _send(tenant, chat_id, {"parts": [part]})
    assert (sent.message.parts[0].type, sent.message.parts[0].value) == (
        part["type"],
        part["value"],
    )
    read: Any = tenant.client.messages.retrieve(sent.message.id)
    assert read.parts[0].value == part["value"]


def test_a_link_may_be_the_only_part_of_a_later_message(tenant: Tenant) -> None:
    sent = _send(
        tenant, _chat(tenant), {"parts": [{"type": "link", "value": "https://example.com/a"}]}
    )
    assert [(p.type, p.value) for p in sent.message.parts] == [("link", "https://example.com/a")]


def test_at_most_100_parts(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    media = {"type": "media", "attachment_id": _uploaded_png(tenant)}
    hundred = [part for _ in range(50) for part in (_text(), media)]
    assert len(_send(tenant, chat_id, {"parts": hundred}).message.parts) == 100
    error = _refused(tenant, chat_id, {"parts": [*hundred, _text()]})
    assert _status_and_code(error) == (400, 1004)


def test_at_most_40_media_parts_by_url(tenant: Tenant, files: str) -> None:
    chat_id = _chat(tenant)
    by_url = {"type": "media", "url": f"{files}/photo.png"}
    forty = [by_url] * 40
    sent = _send(tenant, chat_id, {"parts": forty})
    assert [p.mime_type for p in sent.message.parts] == ["image/png"] * 40
    assert _status_and_code(_refused(tenant, chat_id, {"parts": [*forty, by_url]})) == (400, 1004)


def test_an_unsupported_media_extension_is_400_5004(tenant: Tenant) -> None:
    error = _refused(
        tenant, _chat(tenant), {"parts": [{"type": "media", "url": "https://example.com/x.exe"}]}
    )
    assert _status_and_code(error) == (400, 5004)


def test_an_experience_not_in_the_catalogue_is_400_1004(tenant: Tenant) -> None:
    message = {"experience": {"name": "poll", "action": "create"}}
    assert _status_and_code(_refused(tenant, _chat(tenant), message)) == (400, 1004)


def test_media_by_url_is_kept_as_an_attachment_of_the_message(tenant: Tenant, files: str) -> None:
    url = f"{files}/photo.png"
    sent = _send(tenant, _chat(tenant), {"parts": [{"type": "media", "url": url}]})
    part: Any = sent.message.parts[0]
    assert (part.type, part.filename, part.mime_type, part.size_bytes) == (
        "media",
        "photo.png",
        "image/png",
        len(PNG),
    )
    assert part.id
    # The url is this server's signed link to the stored copy (docs/differences.md).
    assert httpx.get(part.url).content == PNG
    read: Any = tenant.client.messages.retrieve(sent.message.id).parts
    assert (read[0].id, read[0].filename, read[0].mime_type) == (part.id, "photo.png", "image/png")
    assert tenant.client.attachments.retrieve(part.id).filename == "photo.png"


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A second server in hosted mode, where media URLs must be public HTTPS."""
    with server_with(tmp_path_factory.mktemp("hosted"), hosted_mode=True) as running:
        yield running


@pytest.mark.parametrize(
    ("url", "code"),
    [
        pytest.param("http://example.com/a.png", 1004, id="plain-http"),
        pytest.param("https://127.0.0.1/a.png", 5002, id="private-address"),
    ],
)
def test_hosted_mode_fetches_only_public_https_media(
    hosted: RunningServer, url: str, code: int
) -> None:
    with tenant_on(hosted) as tenant:
        # No clock advance: in hosted mode the simulator's control API is closed.
        chat_id = tenant.client.chats.create(
            from_=tenant.line, to=[FRIEND], message={"parts": [_text("hi")]}
        ).chat.id
        error = _refused(tenant, chat_id, {"parts": [{"type": "media", "url": url}]})
        assert _status_and_code(error) == (400, code)


# -- effects ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effect", "expected"),
    [
        ({"name": "confetti", "type": "screen"}, ("confetti", "screen")),
        ({"name": "happy_birthday"}, ("happy_birthday", "screen")),
        ({"name": "slam", "type": "bubble"}, ("slam", "bubble")),
        ({"name": "invisible"}, ("invisible", "bubble")),
    ],
)
def test_known_effects_are_sent_and_echoed(
    tenant: Tenant, effect: dict[str, str], expected: tuple[str, str]
) -> None:
    sent = _send(tenant, _chat(tenant), {"parts": [_text()], "effect": effect})
    assert sent.message.effect is not None
    assert (sent.message.effect.name, sent.message.effect.type) == expected
    read = tenant.client.messages.retrieve(sent.message.id)
    assert read.effect is not None
    assert (read.effect.name, read.effect.type) == expected


@pytest.mark.parametrize(
    "effect",
    [
        pytest.param({"name": "glitter", "type": "screen"}, id="unknown-name"),
        pytest.param({"name": "confetti", "type": "bubble"}, id="screen-as-bubble"),
        pytest.param({"name": "slam", "type": "screen"}, id="bubble-as-screen"),
        pytest.param({"type": "screen"}, id="no-name"),
    ],
)
def test_bad_effects_are_400_1005(tenant: Tenant, effect: dict[str, str]) -> None:
    error = _refused(tenant, _chat(tenant), {"parts": [_text()], "effect": effect})
    assert _status_and_code(error) == (400, 1005)


# -- text decorations ---------------------------------------------------------------


def test_decorations_are_kept_and_returned(tenant: Tenant) -> None:
    decorations = [
        {"range": [0, 5], "style": "bold"},
        {"range": [0, 5], "style": "italic"},  # styles may overlap each other
        {"range": [6, 11], "animation": "shake"},
    ]
    sent = _send(
        tenant, _chat(tenant), {"parts": [_text("hello world", text_decorations=decorations)]}
    )
    read: Any = tenant.client.messages.retrieve(sent.message.id).parts
    for part in (sent.message.parts[0], read[0]):
        assert [(d.range, d.style, d.animation) for d in part.text_decorations] == [
            ([0, 5], "bold", None),
            ([0, 5], "italic", None),
            ([6, 11], None, "shake"),
        ]


@pytest.mark.parametrize(
    ("value", "decorations"),
    [
        pytest.param("hello", [{"range": [0, 6], "style": "bold"}], id="past-the-end"),
        pytest.param("hello", [{"range": [3, 3], "style": "bold"}], id="empty-range"),
        pytest.param("hello", [{"range": [-1, 2], "style": "bold"}], id="negative-start"),
        pytest.param("hello", [{"range": [0, 2]}], id="neither-style-nor-animation"),
        pytest.param(
            "hello",
            [{"range": [0, 2], "style": "bold", "animation": "big"}],
            id="style-and-animation",
        ),
        pytest.param(
            "hello world",
            [{"range": [0, 6], "animation": "big"}, {"range": [5, 11], "animation": "nod"}],
            id="overlapping-animations",
        ),
        pytest.param(
            "hello world",
            [{"range": [0, 6], "animation": "big"}, {"range": [2, 4], "style": "bold"}],
            id="animation-over-style",
        ),
        pytest.param("hi 👋", [{"range": [3, 6], "style": "bold"}], id="emoji-is-two-units"),
        pytest.param("hello", [{"range": [0, 2], "style": "blink"}], id="unknown-style"),
    ],
)
def test_bad_decorations_are_400_1004(
    tenant: Tenant, value: str, decorations: list[dict[str, Any]]
) -> None:
    message = {"parts": [_text(value, text_decorations=decorations)]}
    assert _status_and_code(_refused(tenant, _chat(tenant), message)) == (400, 1004)


def test_ranges_count_utf16_code_units(tenant: Tenant) -> None:
    """In "hi 👋 there" the emoji is one character but two UTF-16 units: the text is 11 long."""
    value = "hi 👋 there"
    decorations = [{"range": [3, 5], "style": "bold"}, {"range": [6, 11], "style": "underline"}]
    sent = _send(tenant, _chat(tenant), {"parts": [_text(value, text_decorations=decorations)]})
    part: Any = sent.message.parts[0]
    assert [d.range for d in part.text_decorations] == [[3, 5], [6, 11]]


# -- mentions -------------------------------------------------------------------------


def test_a_mention_in_a_direct_chat_is_409_2023(tenant: Tenant) -> None:
    message = {"parts": [_text("Friend", mention=FRIEND)]}
    assert _status_and_code(_refused(tenant, _chat(tenant), message)) == (409, 2023)


def test_a_group_member_can_be_mentioned(tenant: Tenant) -> None:
    member = GROUP[0]
    message = {"parts": [_text("Hey Sam, look", mention=member, mention_range=[4, 7])]}
    sent = _send(tenant, _chat(tenant, *GROUP), message)
    read: Any = tenant.client.messages.retrieve(sent.message.id).parts
    for part in (sent.message.parts[0], read[0]):
        assert (part.mention, part.mention_range) == (member, [4, 7])
        assert [(m.handle, m.is_me, m.range) for m in part.mentions] == [(member, False, [4, 7])]


@pytest.mark.parametrize(
    ("part", "status", "code"),
    [
        pytest.param(_text("Stranger", mention="+14155556099"), 409, 2015, id="not-a-member"),
        pytest.param(_text("Sam", mention_range=[0, 3]), 400, 1004, id="range-without-mention"),
        pytest.param(
            _text("Sam", mention=GROUP[0], mention_range=[0, 4]), 400, 1004, id="range-past-end"
        ),
    ],
)
def test_bad_mentions_in_a_group(
    tenant: Tenant, part: dict[str, Any], status: int, code: int
) -> None:
    error = _refused(tenant, _chat(tenant, *GROUP), {"parts": [part]})
    assert _status_and_code(error) == (status, code)


# -- idempotency --------------------------------------------------------------------


def _chat_size(tenant: Tenant, chat_id: str) -> int:
    return len(tenant.client.chats.messages.list(chat_id, limit=100).messages)


def _deliveries(tenant: Tenant, handle: str, message_id: str) -> int:
    """How many times the message reached the device and was reported sent."""
    tenant.sim.settle(2)
    on_screen = [m for m in tenant.sim.screen(handle) if m["message_id"] == message_id]
    sent_events = [e for e in tenant.sim.events("message.sent") if e["data"]["id"] == message_id]
    assert len(on_screen) == len(sent_events)
    return len(on_screen)


def test_a_repeated_chat_send_is_one_message(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    message = {"parts": [_text("only once")], "idempotency_key": "order-42"}
    first = _send(tenant, chat_id, message)
    again = _send(tenant, chat_id, message)
    assert (again.chat_id, again.message.id) == (first.chat_id, first.message.id)
    assert again.message.parts[0].value == "only once"
    assert _chat_size(tenant, chat_id) == 2  # the opening message and this one
    assert _deliveries(tenant, FRIEND, first.message.id) == 1
    # A replay after delivery still answers with the same message, now delivered.
    late = _send(tenant, chat_id, message)
    assert (late.message.id, late.message.delivery_status) == (first.message.id, "delivered")
    assert _chat_size(tenant, chat_id) == 2


@pytest.mark.parametrize("change", ["text", "chat"])
def test_a_reused_key_with_another_request_is_409_2015(tenant: Tenant, change: str) -> None:
    chat_id = _chat(tenant)
    _send(tenant, chat_id, {"parts": [_text("first")], "idempotency_key": "k-1"})
    other_chat = _chat(tenant, "+14155556010") if change == "chat" else chat_id
    text = "second" if change == "text" else "first"
    error = _refused(tenant, other_chat, {"parts": [_text(text)], "idempotency_key": "k-1"})
    assert _status_and_code(error) == (409, 2015)
    assert _chat_size(tenant, chat_id) == 2


def test_a_deleted_messages_key_is_404_2002(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    message = {"parts": [_text("gone")], "idempotency_key": "burned"}
    tenant.client.messages.delete(_send(tenant, chat_id, message).message.id)
    assert _status_and_code(_refused(tenant, chat_id, message)) == (404, 2002)
    assert _chat_size(tenant, chat_id) == 1


def test_idempotency_keys_belong_to_one_account(tenant: Tenant, server: RunningServer) -> None:
    with tenant_on(server) as other:
        message = {"parts": [_text("same")], "idempotency_key": "shared-key"}
        mine = _send(tenant, _chat(tenant), message)
        theirs = _send(other, _chat(other), message)
        assert mine.message.id != theirs.message.id


def _create(tenant: Tenant, via: str, key: str, text: str = "hi again") -> Any:
    if via == "header":
        message: Any = {"parts": [_text(text)]}
        return tenant.client.messages.create(to=[FRIEND], message=message, idempotency_key=key)
    message = {"parts": [_text(text)], "idempotency_key": key}
    return tenant.client.messages.create(to=[FRIEND], message=message)


@pytest.mark.parametrize("via", ["header", "body"])
def test_a_repeated_create_is_one_message(tenant: Tenant, via: str) -> None:
    first = _create(tenant, via, "create-1")
    again = _create(tenant, via, "create-1")
    assert (again.message.id, again.chat_id, again.from_) == (
        first.message.id,
        first.chat_id,
        first.from_,
    )
    assert (again.created_new_chat, again.from_selection.reason) == (True, "new_best_number")
    assert _chat_size(tenant, first.chat_id) == 1
    assert _deliveries(tenant, FRIEND, first.message.id) == 1
    with pytest.raises(linq.ConflictError) as changed:
        _create(tenant, via, "create-1", text="something else")
    assert changed.value.code == 2015


def test_a_header_key_and_a_different_body_key_are_400_1005(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.messages.create(
            to=[FRIEND],
            message={"parts": [_text()], "idempotency_key": "in-body"},
            idempotency_key="in-header",
        )
    assert refused.value.code == 1005
    assert tenant.client.chats.list_chats().chats == []


def test_a_header_key_equal_to_the_body_key_is_accepted(tenant: Tenant) -> None:
    message: Any = {"parts": [_text()], "idempotency_key": "same-both"}
    first = tenant.client.messages.create(to=[FRIEND], message=message, idempotency_key="same-both")
    again = tenant.client.messages.create(to=[FRIEND], message=message, idempotency_key="same-both")
    assert again.message.id == first.message.id


def test_a_header_key_longer_than_255_is_400_1005(tenant: Tenant) -> None:
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.messages.create(
            to=[FRIEND], message={"parts": [_text()]}, idempotency_key="k" * 256
        )
    assert refused.value.code == 1005


def test_a_key_of_255_characters_is_accepted(tenant: Tenant) -> None:
    chat_id = _chat(tenant)
    message = {"parts": [_text()], "idempotency_key": "k" * 255}
    assert _send(tenant, chat_id, message).message.id == _send(tenant, chat_id, message).message.id
