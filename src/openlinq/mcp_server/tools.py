"""The MCP tools: one per Partner API operation an agent needs (send, read, react, typing,
capability checks, webhooks). Named after the SDK's methods; the descriptions are what the model
reads to choose a tool, so they say when to use it and what comes back."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from openlinq.mcp_server.partner import PartnerApi, result

# Which API key a tool call uses: the one the server was started with (stdio) or the bearer
# token of the HTTP request that carried the call (streamable HTTP).
KeyFor = Callable[["Context[Any, Any]"], str]

INSTRUCTIONS = (
    "Tools for a Linq Partner API v3 account served by openlinq: send and read iMessage/RCS/SMS "
    "conversations from your phone numbers (lines), react, show typing, check what a handle can "
    "receive, and manage webhook subscriptions. Start with list_phone_numbers and list_chats. "
    "A failed call is a tool error carrying the Linq error body (error.code, error.message)."
)

ChatId = Annotated[str, Field(description="A chat id (from list_chats or create_chat).")]
MessageId = Annotated[str, Field(description="A message id (from list_messages).")]
Limit = Annotated[int, Field(ge=1, le=100, description="At most this many (1-100).")]
Cursor = Annotated[
    str | None, Field(description="next_cursor of the previous page, for the next one.")
]
Handle = Annotated[str, Field(description="A phone number in E.164 (+14155550123) or an email.")]
FromNumber = Annotated[
    str | None,
    Field(description="One of your lines (E.164); omitted: the server picks an available one."),
]
Text = Annotated[str | None, Field(description="The message text (a plain text part).")]
Parts = Annotated[
    list[dict[str, Any]] | None,
    Field(
        description=(
            "Message parts as the Partner API takes them, instead of text: "
            '[{"type": "text", "value": "hi"}, {"type": "media", "url": "https://..."}], '
            'or [{"type": "link", "value": "https://..."}] alone for a rich link preview.'
        )
    ),
]
Service = Annotated[
    Literal["iMessage", "RCS", "SMS"] | None,
    Field(description="Preferred service; omitted: the best the recipient supports."),
]
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)


def _message(
    text: str | None,
    parts: list[dict[str, Any]] | None,
    preferred_service: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any]:
    """The ``message`` object of a send; the server validates it (and answers 1001/1004)."""
    content: dict[str, Any] = {}
    if parts is not None:
        content["parts"] = parts
    elif text is not None:
        content["parts"] = [{"type": "text", "value": text}]
    if preferred_service:
        content["preferred_service"] = preferred_service
    if reply_to:
        content["reply_to"] = {"message_id": reply_to}
    return content


def _id(value: str) -> str:
    """A path segment: an id with a slash or a ``?`` in it must not reach another route."""
    return quote(value, safe="")


class Tools:
    """The tool functions; each makes one Partner API call with the caller's key."""

    def __init__(self, api: PartnerApi, key_for: KeyFor) -> None:
        self.api = api
        self.key_for = key_for

    async def _call(
        self,
        ctx: Context[Any, Any],
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> CallToolResult:
        answer = await self.api.call(self.key_for(ctx), method, path, json=json, params=params)
        return result(answer)

    async def list_phone_numbers(self, ctx: Context[Any, Any]) -> CallToolResult:
        """Your phone numbers (lines): the numbers you can send from, with their line type
        and reputation."""
        return await self._call(ctx, "GET", "/phone_numbers")

    async def list_chats(
        self,
        ctx: Context[Any, Any],
        from_number: Annotated[str | None, Field(description="Only this line's chats.")] = None,
        to: Annotated[str | None, Field(description="Only chats with this handle in them.")] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> CallToolResult:
        """Your chats, most recently active first, with their participants (handles) and
        service. Page with next_cursor."""
        params = {"from": from_number, "to": to, "limit": limit, "cursor": cursor}
        return await self._call(ctx, "GET", "/chats", params=params)

    async def get_chat(self, ctx: Context[Any, Any], chat_id: ChatId) -> CallToolResult:
        """One chat: participants, service, group or not, health."""
        return await self._call(ctx, "GET", f"/chats/{_id(chat_id)}")

    async def create_chat(
        self,
        ctx: Context[Any, Any],
        from_number: Annotated[str, Field(description="The line to send from (E.164).")],
        to: Annotated[
            list[str],
            Field(min_length=1, description="Recipient handles; one = direct chat, more = group."),
        ],
        text: Text = None,
        parts: Parts = None,
        preferred_service: Service = None,
    ) -> CallToolResult:
        """Start a conversation: creates the chat (or reuses the one with exactly these
        participants) and sends the first message. The first message of a new chat cannot
        contain a link."""
        body = {"from": from_number, "to": to, "message": _message(text, parts, preferred_service)}
        return await self._call(ctx, "POST", "/chats", json=body)

    async def send_message(
        self,
        ctx: Context[Any, Any],
        chat_id: ChatId,
        text: Text = None,
        parts: Parts = None,
        reply_to_message_id: Annotated[
            str | None, Field(description="Reply in the thread of this message.")
        ] = None,
        preferred_service: Service = None,
    ) -> CallToolResult:
        """Send a message into an existing chat. Accepted at once; delivery follows
        (get_message and list_messages show its delivery_status)."""
        message = _message(text, parts, preferred_service, reply_to_message_id)
        return await self._call(
            ctx, "POST", f"/chats/{_id(chat_id)}/messages", json={"message": message}
        )

    async def list_messages(
        self,
        ctx: Context[Any, Any],
        chat_id: ChatId,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> CallToolResult:
        """Read a conversation: the chat's messages, newest first, sent (is_from_me) and
        received, with parts, reactions and delivery status. Page with next_cursor."""
        params = {"limit": limit, "cursor": cursor}
        return await self._call(ctx, "GET", f"/chats/{_id(chat_id)}/messages", params=params)

    async def get_message(self, ctx: Context[Any, Any], message_id: MessageId) -> CallToolResult:
        """One message: parts, sender, delivery status, reactions."""
        return await self._call(ctx, "GET", f"/messages/{_id(message_id)}")

    async def mark_chat_read(self, ctx: Context[Any, Any], chat_id: ChatId) -> CallToolResult:
        """Mark the chat's received messages as read (the sender sees a read receipt)."""
        return await self._call(ctx, "POST", f"/chats/{_id(chat_id)}/read")

    async def react_to_message(
        self,
        ctx: Context[Any, Any],
        message_id: MessageId,
        reaction: Annotated[
            Literal["love", "like", "dislike", "laugh", "emphasize", "question", "custom"],
            Field(description="A tapback; custom = any emoji, given in custom_emoji."),
        ],
        operation: Annotated[
            Literal["add", "remove"], Field(description="Add or remove the reaction.")
        ] = "add",
        custom_emoji: Annotated[
            str | None, Field(description="The emoji, when reaction is custom.")
        ] = None,
        part_index: Annotated[
            int, Field(ge=0, description="Which part of the message (0 = the whole message).")
        ] = 0,
    ) -> CallToolResult:
        """React to a message with a tapback (love, like, laugh...) or remove one."""
        body: dict[str, Any] = {"operation": operation, "type": reaction, "part_index": part_index}
        if custom_emoji is not None:
            body["custom_emoji"] = custom_emoji
        return await self._call(ctx, "POST", f"/messages/{_id(message_id)}/reactions", json=body)

    async def start_typing(self, ctx: Context[Any, Any], chat_id: ChatId) -> CallToolResult:
        """Show the typing indicator in the chat (iMessage; lasts about a minute, cleared when
        you send)."""
        return await self._call(ctx, "POST", f"/chats/{_id(chat_id)}/typing")

    async def stop_typing(self, ctx: Context[Any, Any], chat_id: ChatId) -> CallToolResult:
        """Clear the typing indicator in the chat."""
        return await self._call(ctx, "DELETE", f"/chats/{_id(chat_id)}/typing")

    async def check_imessage(
        self, ctx: Context[Any, Any], address: Handle, from_number: FromNumber = None
    ) -> CallToolResult:
        """Can this handle receive iMessage? (available true/false)"""
        body = {"address": address, "from": from_number}
        return await self._call(ctx, "POST", "/capability/check_imessage", json=_present(body))

    async def check_rcs(
        self,
        ctx: Context[Any, Any],
        address: Annotated[str, Field(description="A phone number in E.164.")],
        from_number: FromNumber = None,
    ) -> CallToolResult:
        """Can this phone number receive RCS? (available, and the service a message would use)"""
        body = {"address": address, "from": from_number}
        return await self._call(ctx, "POST", "/capability/check_rcs", json=_present(body))

    async def list_webhook_events(self, ctx: Context[Any, Any]) -> CallToolResult:
        """The webhook event types you can subscribe to."""
        return await self._call(ctx, "GET", "/webhook-events")

    async def list_webhook_subscriptions(self, ctx: Context[Any, Any]) -> CallToolResult:
        """Your webhook subscriptions (target URL, events, active or not)."""
        return await self._call(ctx, "GET", "/webhook-subscriptions")

    async def create_webhook_subscription(
        self,
        ctx: Context[Any, Any],
        target_url: Annotated[str, Field(description="Where events are POSTed.")],
        subscribed_events: Annotated[
            list[str],
            Field(min_length=1, description="Event types (see list_webhook_events)."),
        ],
        phone_numbers: Annotated[
            list[str] | None, Field(description="Only events of these lines; omitted: all.")
        ] = None,
    ) -> CallToolResult:
        """Subscribe a URL to webhook events. The answer holds the signing secret, shown only
        this once."""
        body = {
            "target_url": target_url,
            "subscribed_events": subscribed_events,
            "phone_numbers": phone_numbers,
        }
        return await self._call(ctx, "POST", "/webhook-subscriptions", json=_present(body))

    async def update_webhook_subscription(
        self,
        ctx: Context[Any, Any],
        subscription_id: Annotated[str, Field(description="The subscription's id.")],
        target_url: Annotated[str | None, Field(description="A new target URL.")] = None,
        subscribed_events: Annotated[
            list[str] | None, Field(description="The new set of event types.")
        ] = None,
        is_active: Annotated[bool | None, Field(description="Turn delivery on or off.")] = None,
    ) -> CallToolResult:
        """Change a webhook subscription: its URL, its events, or turn it on or off."""
        body = {
            "target_url": target_url,
            "subscribed_events": subscribed_events,
            "is_active": is_active,
        }
        path = f"/webhook-subscriptions/{_id(subscription_id)}"
        return await self._call(ctx, "PUT", path, json=_present(body))

    async def delete_webhook_subscription(
        self,
        ctx: Context[Any, Any],
        subscription_id: Annotated[str, Field(description="The subscription's id.")],
    ) -> CallToolResult:
        """Delete a webhook subscription (no more deliveries to its URL)."""
        path = f"/webhook-subscriptions/{_id(subscription_id)}"
        return await self._call(ctx, "DELETE", path)


def _present(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if value is not None}


# (tool, annotations): the order is the order tools/list shows.
_CATALOGUE: tuple[tuple[str, ToolAnnotations], ...] = (
    ("list_phone_numbers", READ),
    ("list_chats", READ),
    ("get_chat", READ),
    ("list_messages", READ),
    ("get_message", READ),
    ("create_chat", WRITE),
    ("send_message", WRITE),
    ("react_to_message", WRITE),
    ("mark_chat_read", WRITE),
    ("start_typing", WRITE),
    ("stop_typing", WRITE),
    ("check_imessage", READ),
    ("check_rcs", READ),
    ("list_webhook_events", READ),
    ("list_webhook_subscriptions", READ),
    ("create_webhook_subscription", WRITE),
    ("update_webhook_subscription", WRITE),
    ("delete_webhook_subscription", DELETE),
)
TOOL_NAMES = tuple(name for name, _ in _CATALOGUE)


def build_server(api: PartnerApi, key_for: KeyFor) -> MCPServer:
    from openlinq import __version__

    server: MCPServer = MCPServer(
        name="openlinq", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )
    tools = Tools(api, key_for)
    for name, hints in _CATALOGUE:
        function = getattr(tools, name)
        # The docstring, dedented: it is the description the model reads.
        description = inspect.getdoc(function)
        server.add_tool(function, name=name, description=description, annotations=hints)
    return server
