"""``openlinq sim``: be the person on the other phone (the simulator's /sim/v1, from a shell)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from openlinq.cli.chats import message_text
from openlinq.cli.common import (
    DEFAULT_BASE_URL,
    Api,
    ApiKey,
    ApiUrl,
    JsonFlag,
    emit_json,
    fail,
    say,
    seconds,
)

sim_app = typer.Typer(
    help="The simulator: send as a phone, react, type, read its screen, drive the clock.",
    no_args_is_help=True,
)
device_app = typer.Typer(help="How a simulated phone behaves.", no_args_is_help=True)
clock_app = typer.Typer(help="Simulated time (advance it when the server runs a manual clock).")
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
sim_app.add_typer(device_app, name="device")
sim_app.add_typer(clock_app, name="clock")
sim_app.add_typer(jobs_app, name="jobs")

# Short names for the device models (the full names work too).
PRESET_ALIASES = {"echo": "echo_bot", "stop": "stopper", "read": "reader", "react": "reactor"}

Reaction = Literal["love", "like", "dislike", "laugh", "emphasize", "question", "custom"]
To = Annotated[str | None, typer.Option("--to", help="The line (your number) it writes to.")]
Chat = Annotated[str | None, typer.Option("--chat", help="Or the chat it writes in.")]


def _upload(api: Api, path: Path) -> str:
    """Upload a file as one of the account's attachments; the device sends it by id."""
    if not path.is_file():
        fail(f"no file {path}", 2)
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    data = path.read_bytes()
    created = api.partner(
        "POST",
        "/attachments",
        json={"filename": path.name, "content_type": content_type, "size_bytes": len(data)},
    )
    api.call(
        "PUT", created["upload_url"], content=data, headers=created["required_headers"], auth=False
    )
    return str(created["attachment_id"])


def _chat_of(api: Api, phone: str, to: str | None, chat: str | None) -> str:
    """The chat a command means: --chat, or the newest chat between the phone and --to."""
    if chat:
        return chat
    if not to:
        fail("say which chat: --chat CHAT_ID or --to LINE", 2)
    chats = api.partner("GET", "/chats", params={"from": to, "to": phone, "limit": 1})["chats"]
    if not chats:
        fail(f"{phone} has no chat with {to}; `openlinq sim send` starts one", 1)
    return str(chats[0]["id"])


@sim_app.command("send")
def send(
    phone: Annotated[str, typer.Argument(help="The simulated phone that writes.")],
    text: Annotated[str | None, typer.Argument(help="What it writes.")] = None,
    to: To = None,
    chat: Chat = None,
    media: Annotated[
        list[Path] | None, typer.Option(help="Attach this file (repeatable).", show_default=False)
    ] = None,
    reply_to: Annotated[str | None, typer.Option(help="Reply to this message id.")] = None,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """The phone sends a message to one of your lines (your agent gets message.received)."""
    if not to and not chat:
        fail("say where: --to LINE (one of your numbers) or --chat CHAT_ID", 2)
    if text is None and not media:
        fail("nothing to send: give TEXT or --media FILE", 2)
    with Api(api_url, api_key) as api:
        parts: list[dict[str, Any]] = [{"type": "text", "value": text}] if text else []
        parts += [{"type": "media", "attachment_id": _upload(api, f)} for f in media or []]
        body: dict[str, Any] = {"parts": parts, "to": to, "chat_id": chat, "reply_to": reply_to}
        sent = api.sim(
            "POST",
            f"/devices/{phone}/messages",
            json={k: v for k, v in body.items() if v is not None},
        )
    if as_json:
        emit_json(sent)
        return
    if sent.get("dropped"):
        say(f"{phone} is blocked: its message was dropped (`openlinq sim dropped` lists it)")
        return
    say(f"{phone} sent {sent['message_id']} in chat {sent['chat_id']}")


@sim_app.command("dropped")
def dropped(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """What blocked handles sent that was dropped (your agent got no message.received)."""
    with Api(api_url, api_key) as api:
        items = api.sim("GET", "/dropped", params={"limit": limit})["dropped"]
    if as_json:
        emit_json(items)
        return
    if not items:
        say("nothing dropped")
    for item in items:
        say(
            f"{str(item['received_at'])[:19]}  {item['handle']} → {item['line']}"
            f"  {item['kind']}: {item['summary']}"
        )


@sim_app.command("react")
def react(
    phone: str,
    message_id: str,
    reaction: Annotated[Reaction, typer.Argument(help="The tapback.")] = "love",
    emoji: Annotated[str | None, typer.Option(help="The emoji of a custom reaction.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Take the reaction back.")] = False,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
) -> None:
    """The phone reacts to a message (or removes its reaction)."""
    if emoji and reaction != "custom":
        reaction = "custom"
    body: dict[str, Any] = {
        "message_id": message_id,
        "type": reaction,
        "operation": "remove" if remove else "add",
    }
    if emoji:
        body["custom_emoji"] = emoji
    with Api(api_url, api_key) as api:
        api.sim("POST", f"/devices/{phone}/reactions", json=body)
    say(f"{phone} {'removed' if remove else 'added'} {emoji or reaction} on {message_id}")


@sim_app.command("typing")
def typing(
    phone: str,
    to: To = None,
    chat: Chat = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop typing.")] = False,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
) -> None:
    """The phone starts (or stops) typing in a chat."""
    with Api(api_url, api_key) as api:
        chat_id = _chat_of(api, phone, to, chat)
        state = "stopped" if stop else "started"
        api.sim("POST", f"/devices/{phone}/typing", json={"chat_id": chat_id, "state": state})
    say(f"{phone} {state} typing in {chat_id}")


@sim_app.command("read")
def read(
    phone: str,
    to: To = None,
    chat: Chat = None,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
) -> None:
    """The phone reads a chat (your messages get read receipts)."""
    with Api(api_url, api_key) as api:
        chat_id = _chat_of(api, phone, to, chat)
        count = api.sim("POST", f"/devices/{phone}/read", json={"chat_id": chat_id})["count"]
    say(f"{phone} read {count} message(s) in {chat_id}")


@sim_app.command("screen")
def screen(
    phone: str,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """What the phone shows: its conversations, oldest first (→ it sent, ← it received)."""
    with Api(api_url, api_key) as api:
        shown = api.sim("GET", f"/devices/{phone}/screen")
    if as_json:
        emit_json(shown)
        return
    say(f"{shown['handle']}: {len(shown['messages'])} message(s)")
    for item in shown["messages"]:
        arrow = "→" if item["direction"] == "sent" else "←"
        reactions = " ".join(
            str(r.get("custom_emoji") or r.get("type")) for r in item.get("reactions") or []
        )
        say(
            f"{str(item['at'])[11:19]}  {arrow} {item['counterpart']}  {message_text(item)}"
            f"  ({item['service']}, {item['delivery_status']})"
            + (f"  [{reactions}]" if reactions else "")
        )
    for chat in shown.get("typing_in") or []:
        say(f"… typing in {chat}")


@device_app.command("show")
def device_show(
    phone: str,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """How the phone behaves now."""
    with Api(api_url, api_key) as api:
        device = api.sim("GET", f"/devices/{phone}")
    _show_device(device, as_json)


def _show_device(device: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(device)
        return
    profile = ", ".join(f"{k}={v}" for k, v in device["profile"].items() if v not in (None, []))
    origin = "configured" if device["configured"] else "built-in"
    say(f"{device['handle']} ({origin}): {profile}")


@device_app.command("set")
def device_set(
    phone: str,
    preset: Annotated[
        str | None,
        typer.Option(
            help="Start from a model: echo, stop, read, react, unreachable, slow, iphone, "
            "android, sms_only, email."
        ),
    ] = None,
    read_after: Annotated[
        str | None, typer.Option(help="Read each message this long after delivery (2s).")
    ] = None,
    deliver_after: Annotated[str | None, typer.Option(help="Deliver after (5s).")] = None,
    reply: Annotated[
        Literal["none", "echo", "stop_first"] | None, typer.Option(help="Automatic reply.")
    ] = None,
    reply_after: Annotated[str | None, typer.Option(help="Reply this long after (3s).")] = None,
    react_with: Annotated[
        Reaction | None, typer.Option("--react", help="React with this to each message.")
    ] = None,
    typing: Annotated[bool | None, typer.Option(help="Type before replying.")] = None,
    reachable: Annotated[
        bool | None, typer.Option("--reachable/--unreachable", help="Whether deliveries succeed.")
    ] = None,
    services: Annotated[
        str | None, typer.Option(help="Comma-separated: iMessage,RCS,SMS.", show_default=False)
    ] = None,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Make the phone behave a certain way (unset options keep the preset's value)."""
    body: dict[str, Any] = {
        "preset": PRESET_ALIASES.get(preset, preset) if preset else None,
        "read_after": seconds(read_after) if read_after else None,
        "deliver_after": seconds(deliver_after) if deliver_after else None,
        "reply": reply,
        "reply_after": seconds(reply_after) if reply_after else None,
        "react": react_with,
        "typing": typing,
        "reachable": reachable,
        "services": [s.strip() for s in services.split(",")] if services else None,
    }
    settings = {k: v for k, v in body.items() if v is not None}
    if not settings:
        fail("nothing to set: give --preset or a setting (see --help)", 2)
    with Api(api_url, api_key) as api:
        device = api.sim("PUT", f"/devices/{phone}", json=settings)
    _show_device(device, as_json)


@device_app.command("reset")
def device_reset(phone: str, api_url: ApiUrl = DEFAULT_BASE_URL, api_key: ApiKey = None) -> None:
    """The phone goes back to its built-in behaviour."""
    with Api(api_url, api_key) as api:
        api.sim("DELETE", f"/devices/{phone}")
    say(f"{phone} reset")


@sim_app.command("reset")
def reset(
    phones: Annotated[
        list[str] | None,
        typer.Argument(help="These phones (default: every phone you have a chat with)."),
    ] = None,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
) -> None:
    """Put phones back to their built-in behaviour (messages and chats stay)."""
    with Api(api_url, api_key) as api:
        targets = list(phones or [])
        if not targets:
            chats = api.partner("GET", "/chats", params={"limit": 100})["chats"]
            handles = {h["handle"] for c in chats for h in c["handles"] if not h.get("is_me")}
            targets = sorted(handles)
        for phone in targets:
            api.sim("DELETE", f"/devices/{phone}")
    say(f"reset {len(targets)} phone(s)" + (f": {', '.join(targets)}" if targets else ""))


def _show_clock(clock: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(clock)
        return
    ran = f", {clock['jobs_run']} job(s) run" if clock.get("jobs_run") else ""
    say(f"{clock['now']} ({clock['mode']} clock{ran})")


@clock_app.callback(invoke_without_command=True)
def clock(
    ctx: typer.Context,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Show simulated time (or `advance` it)."""
    if ctx.invoked_subcommand is not None:
        return
    with Api(api_url, api_key) as api:
        _show_clock(api.sim("GET", "/clock"), as_json)


@clock_app.command("advance")
def clock_advance(
    by: Annotated[str, typer.Argument(help="How far: 30s, 2m, 1h.")],
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    as_json: JsonFlag = False,
) -> None:
    """Move a manual clock forward and run everything that became due."""
    with Api(api_url, api_key) as api:
        _show_clock(api.sim("POST", "/clock/advance", json={"seconds": seconds(by)}), as_json)


@jobs_app.command("run")
def jobs_run(
    api_url: ApiUrl = DEFAULT_BASE_URL, api_key: ApiKey = None, as_json: JsonFlag = False
) -> None:
    """Run every job that is due now (deliveries, replies, webhooks)."""
    with Api(api_url, api_key) as api:
        _show_clock(api.sim("POST", "/jobs/run"), as_json)


@sim_app.command("run")
def run(
    scenario: Annotated[
        Path, typer.Argument(help="A scenario file (YAML): personas and what to expect.")
    ],
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
    timeout: Annotated[
        float, typer.Option(help="Give up on a real clock after this many seconds.")
    ] = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Play a scenario against your agent; one line per expectation, exit 1 if any fails."""
    from openlinq.scenarios import ScenarioError, run_scenario

    if not api_key:
        fail("no API key: pass --api-key or set LINQ_API_V3_API_KEY", 2)
    if not scenario.is_file():
        fail(f"no scenario file at {scenario}", 2)
    try:
        report = run_scenario(scenario, base_url=api_url, api_key=api_key, timeout=timeout)
    except ScenarioError as error:
        fail(str(error))
    if as_json:
        emit_json(report.to_json())
    else:
        say(report.to_text())
    if not report.passed:
        raise typer.Exit(1)
