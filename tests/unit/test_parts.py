"""build_content: the rules on a message's parts, effects and replies."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.models import Effect, Service
from openlinq.domain.parts import (
    MAX_PARTS,
    MAX_TEXT_DECORATIONS,
    MAX_URL_MEDIA,
    MEDIA_TYPES,
    MessageContent,
    build_content,
    utf16_length,
)

WAVE = "\N{WAVING HAND SIGN}"  # one character, two UTF-16 code units


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "value": value, **extra}


def media(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "media", "url": url, **extra}


def upload(attachment_id: str = "att_1") -> dict[str, Any]:
    return {"type": "media", "attachment_id": attachment_id}


def content(*parts: dict[str, Any], **message: Any) -> MessageContent:
    return build_content({"parts": list(parts), **message})


def refusal(*parts: dict[str, Any], **message: Any) -> LinqError:
    with pytest.raises(LinqError) as refused:
        content(*parts, **message)
    return refused.value


def alternating(count: int) -> list[dict[str, Any]]:
    """``count`` parts, text and uploaded media by turns (never two texts in a row)."""
    return [text(f"t{i}") if i % 2 == 0 else upload(f"att_{i}") for i in range(count)]


# -- how many parts ------------------------------------------------------------------


def test_parts_are_required() -> None:
    with pytest.raises(LinqError) as refused:
        build_content({"effect": {"name": "slam"}})
    assert refused.value.code is ErrorCode.MISSING_REQUIRED_FIELD


def test_an_empty_part_list_is_invalid_content() -> None:
    assert refusal().code is ErrorCode.INVALID_MESSAGE_CONTENT


def test_at_most_100_parts() -> None:
    assert len(content(*alternating(MAX_PARTS)).parts) == 100
    assert refusal(*alternating(MAX_PARTS + 1)).code is ErrorCode.INVALID_MESSAGE_CONTENT


def test_at_most_40_media_parts_by_url() -> None:
    by_url = [media(f"https://cdn.example.com/{i}.jpg") for i in range(MAX_URL_MEDIA)]
    assert len(content(*by_url).parts) == 40
    too_many = [*by_url, media("https://cdn.example.com/extra.jpg")]
    assert refusal(*too_many).code is ErrorCode.INVALID_MESSAGE_CONTENT


def test_uploaded_media_does_not_count_against_the_url_limit() -> None:
    parts = [upload(f"att_{i}") for i in range(MAX_URL_MEDIA + 1)]
    assert len(content(*parts).parts) == 41


# -- text parts ----------------------------------------------------------------------


def test_two_text_parts_cannot_follow_each_other() -> None:
    error = refusal(text("one"), text("two"))
    assert error.code is ErrorCode.INVALID_MESSAGE_CONTENT
    assert "join them" in error.message


def test_text_parts_separated_by_media_are_fine() -> None:
    parts = content(text("look"), upload(), text("nice")).parts
    assert [p["type"] for p in parts] == ["text", "media", "text"]


def test_a_text_part_cannot_be_empty() -> None:
    assert refusal(text("")).code is ErrorCode.INVALID_MESSAGE_CONTENT


# -- parts that must be alone --------------------------------------------------------

SOLO_PARTS = [
    {"type": "link", "value": "https://example.com"},
    {"type": "app_clip", "value": "https://appclip.example.com/x"},
    {"type": "imessage_app", "app": {}, "layout": {}},
]


@pytest.mark.parametrize("solo", SOLO_PARTS, ids=lambda p: p["type"])
@pytest.mark.parametrize("before", [True, False], ids=["first", "last"])
def test_link_and_app_parts_must_be_alone(solo: dict[str, Any], before: bool) -> None:
    parts = [solo, text("hi")] if before else [upload(), solo]
    error = refusal(*parts)
    assert error.code is ErrorCode.INVALID_MESSAGE_CONTENT
    assert f"a {solo['type']} part must be the only part" in error.message


def test_a_lone_link_part_is_kept() -> None:
    assert content({"type": "link", "value": "https://linq.app/x?y=1"}).parts == (
        {"type": "link", "value": "https://linq.app/x?y=1"},
    )


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "example.com", "/relative", "https://" + "a" * 2050 + ".com"]
)
def test_a_link_must_be_an_absolute_http_url(url: str) -> None:
    assert refusal({"type": "link", "value": url}).code is ErrorCode.INVALID_MESSAGE_CONTENT


# -- media ---------------------------------------------------------------------------


def test_media_by_https_url_is_kept_as_its_source() -> None:
    (part,) = content(media("https://cdn.example.com/cat.png")).parts
    assert part == {
        "type": "media",
        "source_url": "https://cdn.example.com/cat.png",
        "sticker": False,
    }


def test_uploaded_media_keeps_its_attachment_and_sticker_flag() -> None:
    (part,) = content({**upload("att_9"), "sticker": True}).parts
    assert part == {"type": "media", "attachment_id": "att_9", "sticker": True}


@pytest.mark.parametrize(
    "part",
    [{"type": "media"}, {"type": "media", "url": "https://x.test/a.png", "attachment_id": "a"}],
    ids=["neither", "both"],
)
def test_media_takes_exactly_one_of_url_or_attachment(part: dict[str, Any]) -> None:
    assert refusal(part).code is ErrorCode.INVALID_MESSAGE_CONTENT


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/a.jpg",
        "https://cdn.example.com/A.PNG",  # extensions are case-insensitive
        "https://cdn.example.com/clip.mov?sig=abc#t=1",  # query and fragment ignored
        "https://cdn.example.com/my%20photo.heic",  # the path is unquoted first
        "https://cdn.example.com/contact.vcf",
        "https://cdn.example.com/deck.key",
        "https://cdn.example.com/image",  # no extension: the fetch decides
    ],
)
def test_supported_media_extensions_are_accepted(url: str) -> None:
    assert content(media(url)).parts[0]["source_url"] == url


@pytest.mark.parametrize("extension", [".exe", ".webp", ".flac", ".ogg", ".svg", ".js"])
def test_unsupported_media_extensions_are_an_invalid_file_type(extension: str) -> None:
    error = refusal(media(f"https://cdn.example.com/file{extension}"))
    assert (error.code, error.code.code) == (ErrorCode.INVALID_FILE_TYPE, 5004)
    assert extension in error.message


def test_every_listed_extension_is_accepted() -> None:
    for extension in MEDIA_TYPES:
        assert content(media(f"https://cdn.example.com/x{extension}")).parts


# -- ranges in UTF-16 code units -----------------------------------------------------


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert (utf16_length("hi"), utf16_length(WAVE), utf16_length(f"{WAVE} hi")) == (2, 2, 5)


def test_a_decoration_may_span_the_whole_utf16_length() -> None:
    value = f"{WAVE} hi"  # 4 characters, 5 code units
    part = content(text(value, text_decorations=[{"range": [0, 5], "style": "bold"}])).parts[0]
    assert part["text_decorations"] == [{"range": [0, 5], "style": "bold"}]


@pytest.mark.parametrize("bounds", [[0, 6], [3, 3], [4, 2], [-1, 2]])
def test_decoration_ranges_must_lie_inside_the_text(bounds: list[int]) -> None:
    error = refusal(text(f"{WAVE} hi", text_decorations=[{"range": bounds, "style": "bold"}]))
    assert error.code is ErrorCode.INVALID_MESSAGE_CONTENT
    assert "UTF-16" in error.message


@pytest.mark.parametrize(
    "decoration",
    [{"range": [0, 2]}, {"range": [0, 2], "style": "bold", "animation": "shake"}],
    ids=["neither", "both"],
)
def test_a_decoration_is_a_style_or_an_animation(decoration: dict[str, Any]) -> None:
    assert refusal(text("hello", text_decorations=[decoration])).code is (
        ErrorCode.INVALID_MESSAGE_CONTENT
    )


def test_styles_may_overlap_but_animations_may_not() -> None:
    styles = [{"range": [0, 4], "style": "bold"}, {"range": [2, 5], "style": "italic"}]
    assert len(content(text("hello", text_decorations=styles)).parts[0]["text_decorations"]) == 2
    animated = [{"range": [0, 4], "animation": "shake"}, {"range": [2, 5], "style": "italic"}]
    assert refusal(text("hello", text_decorations=animated)).code is (
        ErrorCode.INVALID_MESSAGE_CONTENT
    )


def test_decorations_past_the_cap_are_refused() -> None:
    styles = [{"range": [0, 1], "style": "bold"}] * MAX_TEXT_DECORATIONS
    assert len(content(text("hello", text_decorations=styles)).parts[0]["text_decorations"]) == (
        MAX_TEXT_DECORATIONS
    )
    error = refusal(text("hello", text_decorations=[*styles, styles[0]]))
    assert error.code is ErrorCode.INVALID_MESSAGE_CONTENT
    assert str(MAX_TEXT_DECORATIONS) in error.message


_decoration = st.tuples(
    st.integers(0, 30), st.integers(1, 8), st.sampled_from(["style", "animation"])
).map(lambda d: {"range": [d[0], d[0] + d[1]], d[2]: "bold" if d[2] == "style" else "shake"})


@given(st.lists(_decoration, max_size=12))
def test_the_overlap_rule_is_the_pairwise_definition(decorations: list[dict[str, Any]]) -> None:
    """The sorted sweep refuses exactly when some animation overlaps another decoration."""

    def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return bool(a["range"][0] < b["range"][1] and b["range"][0] < a["range"][1])

    expected = any(
        overlap(a, b)
        for i, a in enumerate(decorations)
        for j, b in enumerate(decorations)
        if i != j and "animation" in a
    )
    part = text("x" * 40, text_decorations=decorations)
    if expected:
        assert refusal(part).code is ErrorCode.INVALID_MESSAGE_CONTENT
    else:
        assert content(part).parts[0].get("text_decorations", []) == decorations


@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6)), max_size=8),
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6)), max_size=4),
)
def test_the_sticker_overlap_rule_is_the_pairwise_definition(
    stickers: list[tuple[int, int]], styles: list[tuple[int, int]]
) -> None:
    ranges = [[s, s + n] for s, n in stickers]
    styled = [[s, s + n] for s, n in styles]
    expected = any(
        a[0] < b[1] and b[0] < a[1]
        for i, a in enumerate(ranges)
        for j, b in enumerate(ranges + styled)
        if i != j
    )
    part = text(
        "x" * 40,
        text_decorations=[{"range": r, "style": "bold"} for r in styled],
        inline_stickers=[{"range": r, "url": "https://x.test/s.png"} for r in ranges],
    )
    if expected:
        assert refusal(part).code is ErrorCode.INVALID_MESSAGE_CONTENT
    else:
        content(part)


def test_a_mention_range_defaults_to_the_whole_text_in_utf16_units() -> None:
    part = content(text(f"@Ada {WAVE}", mention="+14155550001")).parts[0]
    assert (part["mention"], part["mention_range"]) == ("+14155550001", [0, 7])


def test_a_mention_range_needs_a_mention() -> None:
    assert refusal(text("hi Ada", mention_range=[3, 6])).code is ErrorCode.INVALID_MESSAGE_CONTENT


@pytest.mark.parametrize(("bounds", "ok"), [([0, 2], True), ([1, 3], False), ([2, 3], True)])
def test_an_inline_sticker_cannot_split_a_character(bounds: list[int], ok: bool) -> None:
    part = text(f"{WAVE}ab", inline_stickers=[{"range": bounds, "attachment_id": "att_s"}])
    if ok:
        assert content(part).parts[0]["inline_stickers"] == [
            {"range": bounds, "attachment_id": "att_s"}
        ]
    else:
        assert "splits a character" in refusal(part).message


def test_inline_stickers_cannot_overlap_a_decoration() -> None:
    part = text(
        "hello",
        text_decorations=[{"range": [0, 3], "style": "bold"}],
        inline_stickers=[{"range": [2, 4], "url": "https://x.test/s.png"}],
    )
    assert refusal(part).code is ErrorCode.INVALID_MESSAGE_CONTENT


def test_inline_stickers_cannot_go_with_a_mention() -> None:
    part = text(
        "hello",
        mention="+14155550001",
        inline_stickers=[{"range": [0, 1], "url": "https://x.test/s.png"}],
    )
    assert refusal(part).code is ErrorCode.INVALID_MESSAGE_CONTENT


# -- effects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effect", "expected"),
    [
        ({"name": "confetti"}, Effect("confetti", "screen")),
        ({"name": "happy_birthday", "type": "screen"}, Effect("happy_birthday", "screen")),
        ({"name": "slam"}, Effect("slam", "bubble")),
        ({"name": "invisible", "type": "bubble"}, Effect("invisible", "bubble")),
        (None, None),
        ({}, None),
    ],
)
def test_effects_know_their_kind(effect: dict[str, Any] | None, expected: Effect | None) -> None:
    assert content(text("yay"), effect=effect).effect == expected


@pytest.mark.parametrize(
    "effect",
    [{"name": "slam", "type": "screen"}, {"name": "explode"}, {"type": "bubble"}],
    ids=["wrong-kind", "unknown", "no-name"],
)
def test_bad_effects_are_invalid_parameters(effect: dict[str, Any]) -> None:
    assert refusal(text("yay"), effect=effect).code is ErrorCode.INVALID_PARAMETER


# -- links inside messages (the first-message rule) ----------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "go to https://x.test/a",
        "HTTP://EXAMPLE.ORG",
        "www.linq.app",
        "see example.com",
        "docs at linq.app/guide?page=2",
        "shop.example.co.uk is open",
    ],
)
def test_urls_in_text_make_a_link(value: str) -> None:
    assert content(text(value)).has_link is True


@pytest.mark.parametrize(
    "value",
    [
        "no links here.",
        "version 2.0 is out",
        "e-mail me",
        "Mr. Smith arrives at 5.30",
        "file.txt",
        "ratio 3:1",
        "a." * 5_000,  # once seconds of backtracking
        "a-" * 5_000,
    ],
)
def test_plain_text_is_not_a_link(value: str) -> None:
    assert content(text(value)).has_link is False


def test_a_link_part_is_a_link_and_media_alone_is_not() -> None:
    assert content({"type": "link", "value": "https://example.com"}).has_link is True
    assert content(media("https://cdn.example.com/cat.png")).has_link is False


# -- the rest of the message object --------------------------------------------------


def test_reply_to_an_id_that_is_not_a_uuid_is_message_not_found() -> None:
    error = refusal(text("re"), reply_to={"message_id": "not-a-uuid"})
    assert error.code is ErrorCode.MESSAGE_NOT_FOUND


def test_reply_to_defaults_to_the_first_part() -> None:
    message_id = str(uuid.uuid4())
    reply = content(text("re"), reply_to={"message_id": message_id}).reply_to
    assert reply is not None
    assert (reply.message_id, reply.part_index) == (message_id, 0)


def test_message_options_are_carried() -> None:
    built = build_content(
        {"parts": [text("hi")], "preferred_service": "SMS", "idempotency_key": "k-1"},
        override_optout=True,
    )
    assert (built.preferred_service, built.idempotency_key, built.override_optout) == (
        Service.SMS,
        "k-1",
        True,
    )


def test_an_experience_is_sent_as_the_one_card_part_it_renders_as() -> None:
    built = build_content(
        {"experience": {"name": "link", "action": "open", "params": {"url": "https://a.example"}}}
    )
    (part,) = built.parts
    assert (part["type"], part["url"], part["layout"]["caption"]) == (
        "imessage_app",
        "https://a.example",
        "Open link",
    )
    assert part["experience"] == {
        "name": "link",
        "action": "open",
        "params": {"url": "https://a.example"},
    }
    with pytest.raises(LinqError) as both:
        build_content({"experience": {"name": "link", "action": "open"}, "parts": [text("x")]})
    assert both.value.code is ErrorCode.INVALID_MESSAGE_CONTENT


def test_mentions_lists_the_mentioned_handles() -> None:
    built = content(text("@Ada", mention="+14155550001"), upload(), text("and you"))
    assert built.mentions == ["+14155550001"]


def test_an_experience_url_python_cannot_parse_is_refused_not_a_crash() -> None:
    with pytest.raises(LinqError) as refused:
        build_content(
            {"experience": {"name": "link", "action": "open", "params": {"url": "https://["}}}
        )
    assert refused.value.code is ErrorCode.INVALID_MESSAGE_CONTENT
