"""/console/phones: the simulated devices, their settings, and being one of them.

Every action goes through ``SimulatorControl``, the path /sim/v1 uses, so the agent under
test gets exactly the webhooks it would get from the control API (or a real phone).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import Field, ValidationError
from starlette.datastructures import UploadFile

from openlinq.api.routes.simulator import react_as_device
from openlinq.api.schemas.chats import ChatOut
from openlinq.api.schemas.common import RequestModel
from openlinq.api.schemas.simulator import (
    DeviceChatIn,
    DevicePaymentIn,
    DevicePollVoteIn,
    DeviceReactionIn,
    DeviceSettingsIn,
    DeviceTypingIn,
    ScreenMessageOut,
)
from openlinq.api.views import chat_page_out, screen_message_out
from openlinq.console.access import Console, ConsoleDep
from openlinq.console.render import render
from openlinq.delivery.simulator.control import PhoneSummary
from openlinq.delivery.simulator.devices import (
    MAGIC_SUFFIXES,
    PRESETS,
    DeviceProfile,
    Reply,
    builtin_profile,
)
from openlinq.domain.errors import ErrorCode, LinqError
from openlinq.domain.handles import parse_handle
from openlinq.domain.locations import Position
from openlinq.domain.models import Service
from openlinq.domain.parts import build_content
from openlinq.domain.views import part_view

router = APIRouter()

PAGE_SIZE = 50
# A phone's screen shows the newest messages of its chats; older ones stay in the API.
SCREEN_MESSAGES = 200
SCREEN_CHATS = 50
TAPBACKS = (
    ("love", "❤️"),
    ("like", "👍"),
    ("dislike", "👎"),
    ("laugh", "😂"),
    ("emphasize", "‼️"),
    ("question", "❓"),
)
MAGIC_EXAMPLE_AREA = "415"
SERVICE_CHOICES = (
    ("iMessage", "SMS"),
    ("iMessage",),
    ("SMS",),
    ("RCS", "SMS"),
    ("RCS",),
    ("iMessage", "RCS", "SMS"),
)


def _seconds(value: float) -> str:
    return f"{value:g} s"


def describe(profile: DeviceProfile) -> str:
    """What a device does, in words (the README's magic-number table, from the model)."""
    if not profile.reachable:
        return "every send fails (message.failed, 4002)"
    steps = [f"delivers after {_seconds(profile.deliver_after)}" if profile.deliver_after else ""]
    if profile.services == {Service.SMS}:
        steps.append("SMS only: messages stop at sent (no receipts)")
    if profile.read_after is not None:
        steps.append(f"reads after {_seconds(profile.read_after)}")
    if profile.typing:
        steps.append("types before replying")
    if profile.reply is Reply.ECHO:
        steps.append(f"replies “echo: <text>” after {_seconds(profile.reply_after)}")
    elif profile.reply is Reply.STOP_FIRST:
        steps.append(f"replies STOP once, after {_seconds(profile.reply_after)}")
    if profile.react:
        steps.append(f"reacts {profile.react}")
    if profile.location:
        steps.append("answers location requests")
    text = "; ".join(s for s in steps if s)
    return text or "delivers at once; never reads or replies"


def _phone_path(handle: str, suffix: str = "") -> str:
    return f"/console/phones/{quote(handle, safe='')}{suffix}"


@dataclass
class _Conversation:
    chat: ChatOut | None
    chat_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)


async def _chats_of(console: Console, handle: str) -> list[ChatOut]:
    page = await console.services.chats.page(
        console.account, from_number=None, to=handle, cursor=None, limit=SCREEN_CHATS
    )
    return chat_page_out(page).chats


async def _screen_context(console: Console, handle: str) -> dict[str, Any]:
    simulator = console.services.simulator
    resolved, items = await simulator.screen(console.account, handle, SCREEN_MESSAGES)
    state = await simulator.device_state(console.account, resolved)
    chats = {c.id: c for c in await _chats_of(console, resolved)}
    conversations: dict[str, _Conversation] = {}
    for item in items:
        out: ScreenMessageOut = screen_message_out(item)
        chat_id = out.chat_id
        conversation = conversations.setdefault(chat_id, _Conversation(chats.get(chat_id), chat_id))
        view = out.model_dump()
        view["parts"] = [part_view(dict(p), console.services.links) for p in item.message.parts]
        for part in view["parts"]:
            await _settled_card(console, part)
        conversation.messages.append(view)
    # The chat with the newest message last, as a phone's list puts it on top.
    ordered = sorted(conversations.values(), key=lambda c: c.messages[-1]["at"])
    return {
        "handle": resolved,
        "conversations": ordered,
        "typing_in": set(state["typing_in"]),
        "tapbacks": TAPBACKS,
        "phone_path": _phone_path(resolved),
        "line_of": _line_of,
    }


async def _settled_card(console: Console, part: dict[str, Any]) -> None:
    """An agentpay card turns itself into its request's outcome ("Paid") once it settles."""
    request_id = (part.get("experience") or {}).get("payment_request_id")
    if request_id is None:
        return
    request = await console.services.payment_requests.get(console.account, request_id)
    if request.status != "requested":
        part["settled"] = "Paid" if request.status == "succeeded" else request.status.capitalize()


def _line_of(chat: ChatOut | None) -> str:
    if chat is None:
        return ""
    return next((h.handle for h in chat.handles if h.is_me), "")


@router.get("/phones", response_class=HTMLResponse)
async def phones(request: Request, console: ConsoleDep, after: str | None = None) -> HTMLResponse:
    return await _phones_page(request, console, after)


async def _phones_page(
    request: Request, console: Console, after: str | None, open_error: str | None = None
) -> HTMLResponse:
    listed = await console.services.simulator.phones(console.account, after, PAGE_SIZE + 1)
    more = len(listed) > PAGE_SIZE
    listed = listed[:PAGE_SIZE]
    magic = [
        (suffix, f"+1{MAGIC_EXAMPLE_AREA}55501{suffix}", PRESETS[preset])
        for suffix, preset in MAGIC_SUFFIXES.items()
    ]
    return render(
        request,
        console,
        "phones.html",
        status_code=400 if open_error else 200,
        phones=listed,
        next_after=listed[-1].handle if more else None,
        after=after,
        magic=magic,
        describe=describe,
        phone_path=_phone_path,
        open_error=open_error,
        blocked=await console.services.blocking.entries(console.account),
        dropped=await console.services.blocking.dropped(console.account),
    )


@router.get("/phones/open", response_class=HTMLResponse, response_model=None)
async def open_phone(
    request: Request, console: ConsoleDep, handle: str = ""
) -> HTMLResponse | RedirectResponse:
    typed = handle.strip()
    if "@" not in typed:  # a number as people write it: +1 (415) 555-0105
        typed = re.sub(r"[\s().-]", "", typed)
    try:
        parsed = parse_handle(typed, "handle").value
    except LinqError as error:
        return await _phones_page(request, console, None, open_error=error.message)
    return RedirectResponse(_phone_path(parsed), status_code=303)


@router.get("/phones/{handle}", response_class=HTMLResponse)
async def phone(request: Request, console: ConsoleDep, handle: str) -> HTMLResponse:
    (summary,) = await console.services.simulator.summaries(console.account, [handle])
    screen = await _screen_context(console, summary.handle)
    chats = await _chats_of(console, summary.handle)
    return render(
        request,
        console,
        "phone.html",
        phone=summary,
        chats=chats,
        describe=describe,
        presets=sorted(PRESETS),
        builtin=builtin_profile(summary.handle).name,
        service_choices=[(json.dumps(list(c)), " + ".join(c)) for c in SERVICE_CHOICES],
        settings=_form_values(summary),
        wallet=await console.services.agentcard.wallet(console.account, summary.handle),
        **screen,
    )


@router.get("/phones/{handle}/screen", response_class=HTMLResponse)
async def screen_fragment(request: Request, console: ConsoleDep, handle: str) -> HTMLResponse:
    return render(request, console, "_phone_screen.html", **await _screen_context(console, handle))


def _form_values(summary: PhoneSummary) -> dict[str, str]:
    """The stored override as the settings form shows it ("" = the preset's own value)."""
    override = summary.override
    values = {
        key: "" if override.get(key) is None else json.dumps(override[key])
        for key in ("reachable", "typing", "location")
    }
    # Stored as given; the choices list them in one order.
    chosen = override.get("services")
    values["services"] = "" if chosen is None else json.dumps(_in_choice_order(chosen))
    for key in ("deliver_after", "read_after", "reply_after"):
        values[key] = "" if override.get(key) is None else f"{override[key]:g}"
    for key in ("preset", "reply", "react"):
        values[key] = str(override.get(key) or "")
    return values


def _in_choice_order(services: list[str]) -> list[str]:
    for choice in SERVICE_CHOICES:
        if set(choice) == set(services):
            return list(choice)
    return services


# -- settings ----------------------------------------------------------------------------


@router.put("/phones/{handle}")
async def configure(handle: str, body: DeviceSettingsIn, console: ConsoleDep) -> dict[str, Any]:
    settings = body.model_dump(exclude_none=True)
    resolved, profile, _ = await console.services.simulator.configure(
        console.account, handle, settings
    )
    return {"message": f"{resolved}: {describe(profile)}", "profile": profile.to_json()}


@router.delete("/phones/{handle}")
async def reset(handle: str, console: ConsoleDep) -> dict[str, Any]:
    await console.services.simulator.reset(console.account, handle)
    return {"message": f"{handle} is its built-in device again"}


# -- being the phone ---------------------------------------------------------------------


class PhoneMessageIn(RequestModel):
    target: str = Field(max_length=80, description='"line:<number>" or "chat:<id>"')
    text: str | None = Field(default=None, max_length=10_000)


class PhoneTargetIn(RequestModel):
    target: str = Field(max_length=80)


class PhoneLocationIn(PhoneTargetIn):
    longitude: float = Field(ge=-180, le=180)
    latitude: float = Field(ge=-90, le=90)
    address: str | None = Field(default=None, max_length=200)
    duration_seconds: int | None = Field(default=None, ge=1, le=86_400)


def _target(raw: str) -> tuple[str | None, str | None]:
    """``line:+1…`` or ``chat:<id>`` → (to, chat_id)."""
    kind, _, value = raw.partition(":")
    if kind == "line" and value:
        return value, None
    if kind == "chat" and value:
        return None, value
    raise LinqError(ErrorCode.INVALID_PARAMETER, "target must be line:<number> or chat:<id>")


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(64 * 1024):
        yield chunk


def _checked(raw: Any) -> PhoneMessageIn:
    try:
        if isinstance(raw, bytes):
            return PhoneMessageIn.model_validate_json(raw)
        return PhoneMessageIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LinqError(ErrorCode.INVALID_REQUEST_BODY, f"{where}: {first['msg']}") from exc


@router.post("/phones/{handle}/messages", status_code=201)
async def send(handle: str, request: Request, console: ConsoleDep) -> dict[str, Any]:
    """The compose form: JSON, or multipart when a file was chosen."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await _send(console, handle, _checked(await request.body()), None)
    async with request.form(max_files=1, max_fields=4) as form:  # closes the spooled file
        file = form.get("file")
        upload = file if isinstance(file, UploadFile) and file.filename else None
        body = _checked({k: v for k, v in form.items() if isinstance(v, str)})
        return await _send(console, handle, body, upload)


async def _send(
    console: Console, handle: str, body: PhoneMessageIn, upload: UploadFile | None
) -> dict[str, Any]:
    to, chat_id = _target(body.target)
    text = (body.text or "").strip()
    parts: list[dict[str, Any]] = []
    simulator = console.services.simulator
    if upload is not None:
        stored = await simulator.store_file(
            console.account, upload.filename or "file", upload.content_type, _chunks(upload)
        )
        parts.append({"type": "media", "attachment_id": stored.id})
    if text:
        parts.append({"type": "text", "value": text})
    if not parts:
        raise LinqError(ErrorCode.INVALID_MESSAGE_CONTENT, "write something or choose a file")
    message = await simulator.send_message(
        console.account,
        handle,
        to=to,
        chat_id=chat_id,
        content=build_content({"parts": parts}),
        reply_to=None,
    )
    if message is None:
        return {"message": "Dropped: this account blocked the phone", "dropped": True}
    return {"message": "Sent", "message_id": message.id, "chat_id": message.chat_id}


@router.post("/phones/{handle}/reactions")
async def react(handle: str, body: DeviceReactionIn, console: ConsoleDep) -> dict[str, Any]:
    await react_as_device(console.services.simulator, console.account, handle, body)
    return {"message": f"Reacted {body.type}" if body.operation == "add" else "Reaction removed"}


@router.post("/phones/{handle}/poll-votes")
async def vote(handle: str, body: DevicePollVoteIn, console: ConsoleDep) -> dict[str, Any]:
    """The phone votes for a poll's option, or takes its vote back."""
    await console.services.simulator.vote(
        console.account, handle, body.message_id, body.option_id, remove=body.operation == "remove"
    )
    return {"message": "Voted" if body.operation == "add" else "Vote taken back"}


@router.post("/phones/{handle}/payments")
async def pay(handle: str, body: DevicePaymentIn, console: ConsoleDep) -> dict[str, Any]:
    """The phone pays (or declines) the agentpay card it was sent."""
    if body.message_id is None:
        raise LinqError(ErrorCode.INVALID_PARAMETER, "message_id is required")
    request = await console.services.payment_requests.payer_acts(
        console.account, handle, body.outcome, message_id=body.message_id
    )
    labels = {"succeeded": "Paid", "requested": f"Payment {request.payer_state}"}
    return {"message": labels.get(request.status, request.status)}


@router.post("/phones/{handle}/typing")
async def typing(handle: str, body: DeviceTypingIn, console: ConsoleDep) -> dict[str, Any]:
    started = body.state == "started"
    await console.services.simulator.typing(console.account, handle, body.chat_id, started)
    return {"message": "Typing…" if started else "Stopped typing"}


@router.post("/phones/{handle}/read")
async def read(handle: str, body: DeviceChatIn, console: ConsoleDep) -> dict[str, Any]:
    count = await console.services.simulator.read(console.account, handle, body.chat_id)
    return {"message": f"Read {count} message{'' if count == 1 else 's'}"}


@router.post("/phones/{handle}/location")
async def share_location(handle: str, body: PhoneLocationIn, console: ConsoleDep) -> dict[str, Any]:
    to, chat_id = _target(body.target)
    await console.services.simulator.share_location(
        console.account,
        handle,
        Position(body.longitude, body.latitude, None, body.address, None),
        to=to,
        chat_id=chat_id,
        duration=timedelta(seconds=body.duration_seconds) if body.duration_seconds else None,
    )
    return {"message": "Sharing location"}


@router.post("/phones/{handle}/location/stop")
async def stop_location(handle: str, body: PhoneTargetIn, console: ConsoleDep) -> dict[str, Any]:
    to, chat_id = _target(body.target)
    stopped = await console.services.simulator.stop_location(
        console.account, handle, to=to, chat_id=chat_id
    )
    return {"message": "Stopped sharing location" if stopped else "It was not sharing"}


@router.post("/phones/{handle}/leave")
async def leave(handle: str, body: DeviceChatIn, console: ConsoleDep) -> dict[str, Any]:
    await console.services.simulator.leave_group(console.account, handle, body.chat_id)
    return {"message": "Left the group"}
