"""A BlueBubbles-compatible server for tests, built from the BlueBubbles server's public API.

Facts it follows (BlueBubblesApp/bluebubbles-server, packages/server/src/server/api/http/api/v1):
every route is under ``/api/v1`` and authenticates with ``?password=`` (also ``guid`` or
``token``), a wrong one is 401; answers are ``{"status", "message", "data"}``; routes behind
``PrivateApiMiddleware`` (react, edit, unsend, typing, read, participants, availability,
chat/new for groups) answer 500 "iMessage error" with a message naming the Private API
when it is off; ``message/text`` takes chatGuid, tempGuid, message, method
(apple-script | private-api), effectId, selectedMessageGuid, partIndex, and a message that
Messages fails to send answers 500 with the message (its ``error`` code) as data;
``server/info`` has ``private_api`` and ``helper_connected``;
``handle/availability/imessage?address=`` answers ``{"available": bool}``; webhooks are
``POST url {"type", "data"}`` with the serialized message (guid, text, handle.address,
isFromMe, dateDelivered, dateRead, chats[].guid, associatedMessageGuid "p:N/GUID",
associatedMessageType "love" / "-love", threadOriginatorGuid) or, for typing,
``{"display": bool, "guid": chatGuid}``.
``message/attachment`` is multipart/form-data: the file in ``attachment``, with chatGuid,
tempGuid (needed for AppleScript), name (required), method, effectId, selectedMessageGuid,
partIndex; an empty or missing file is 400 "Attachment not provided or was empty!". A message's
``attachments`` are ``[{guid, transferName, mimeType, totalBytes}]`` and Messages puts U+FFFC
in its text for each; ``GET attachment/:guid/download`` answers the file's bytes.
Group changes (MessagePoller.handleGroupChanges, emitted by server/index.ts) are serialized
messages: ``group-name-change`` (itemType 2, groupTitle), ``participant-added`` /
``-removed`` (itemType 1, groupActionType 0 / 1), ``participant-left`` (itemType 3, action 0),
``group-icon-changed`` / ``-removed`` (3, 1 / 2); ``handle`` is who did it (null: the Mac's
user), ``otherHandle`` the affected member's handle ROWID (a number, not an address), and the
chat (style 43) lists its ``participants`` ({address, originalROWID}) unless trimmed for
size. ``chat-read-status-changed`` is ``{chatGuid, read}``: the Mac's own read state.
``webhook`` supports GET, POST {url, events} and DELETE ``webhook/:id``.

It runs a threading HTTP server on a loopback port (``stop()``/``start()`` take the Mac
down and bring it back on the same port) and posts its webhooks with ``emit``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests.support.server import free_port

PRIVATE_API_OFF = (
    "Please make sure you have completed the setup for the Private API, "
    "and your helper is connected!"
)
NOT_REGISTERED = 22  # Messages' error code for a handle that is not on iMessage
# Group events (MessagePoller.handleGroupChanges): the message's (itemType, groupActionType).
GROUP_ITEMS = {
    "participant-added": (1, 0),
    "participant-removed": (1, 1),
    "group-name-change": (2, 0),
    "participant-left": (3, 0),
    "group-icon-changed": (3, 1),
    "group-icon-removed": (3, 2),
}


@dataclass
class Call:
    method: str
    path: str
    body: dict[str, Any]


@dataclass
class PeerState:
    password: str
    private_api: bool = True
    unreachable: set[str] = field(default_factory=set)
    chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    # Attachments the Mac holds, by GUID: (name, MIME type, bytes).
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    clock_ms: int = 1_700_000_000_000
    # Seconds of real time before answering anything (a Mac that stopped answering).
    stall: float = 0.0


class BlueBubblesPeer:
    def __init__(self, password: str = "mac-secret") -> None:
        self.port = free_port()
        self.state = PeerState(password=password)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, **overrides: Any) -> dict[str, Any]:
        return {"url": self.url, "password": self.state.password, **overrides}

    def calls(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.state.calls if c.path == path]

    # --- the Mac's side: what a phone does, posted back as webhooks ---------------------

    def _next_ms(self) -> int:
        self.state.clock_ms += 1000
        return self.state.clock_ms

    def emit(self, kind: str, data: dict[str, Any]) -> list[int]:
        """Post one webhook to every registered URL; their HTTP statuses."""
        with self._lock:
            targets = [h["url"] for h in self.state.webhooks]
        statuses = []
        for url in targets:
            answer = httpx.post(url, json={"type": kind, "data": data}, timeout=10)
            statuses.append(answer.status_code)
        return statuses

    def deliver(self, guid: str, *, read: bool = False) -> dict[str, Any]:
        with self._lock:
            message = self.state.messages[guid]
            message["dateDelivered"] = message["dateDelivered"] or self._next_ms()
            message["isDelivered"] = True
            if read:
                message["dateRead"] = self._next_ms()
            update = dict(message)
        self.emit("updated-message", update)
        return update

    def fail(self, guid: str, code: int = NOT_REGISTERED) -> dict[str, Any]:
        """Messages gave up on a message it had accepted (``message-send-error``)."""
        with self._lock:
            message = self.state.messages[guid]
            message["error"] = code
            update = dict(message)
        self.emit("message-send-error", update)
        return update

    def incoming(
        self,
        sender: str,
        text: str,
        *,
        reply_to: str | None = None,
        tapback: tuple[str, str, int] | None = None,
        files: tuple[tuple[str, str, bytes], ...] = (),
    ) -> dict[str, Any]:
        """A message from ``sender``; ``tapback`` = (type ("love", "-love"), target GUID, part);
        ``files`` = (name, MIME type, bytes) attached to it."""
        chat = f"iMessage;-;{sender}"
        message = self._message(chat, text + "\ufffc" * len(files), from_me=False, sender=sender)
        message["attachments"] = [self._keep(*file) for file in files]
        if reply_to is not None:
            message["threadOriginatorGuid"] = reply_to
        if tapback is not None:
            kind, target, part = tapback
            message["associatedMessageType"] = kind
            message["associatedMessageGuid"] = f"p:{part}/{target}"
        self.emit("new-message", message)
        return message

    def _keep(self, name: str, mime: str, data: bytes) -> dict[str, Any]:
        guid = f"at_{uuid.uuid4().hex}"
        with self._lock:
            self.state.files[guid] = (name, mime, data)
        return {"guid": guid, "transferName": name, "mimeType": mime, "totalBytes": len(data)}

    def group_change(
        self,
        kind: str,
        chat: str,
        *,
        actor: str | None = None,
        member: str | None = None,
        title: str | None = None,
        icon: tuple[str, bytes] | None = None,
        listed: bool = True,
    ) -> dict[str, Any]:
        """A group change made on a phone (``actor``; None: on the Mac itself), posted as
        Messages reports it: the group-action message with ``itemType``/``groupActionType``,
        the affected member only as a handle row number (``otherHandle``), and the group's
        participants after the change (``listed=False``: left out, as for a large payload)."""
        item_type, action = GROUP_ITEMS[kind]
        with self._lock:
            group = self.state.chats[chat]
            members: list[str] = group["participants"]
            if kind == "participant-added" and member is not None:
                members.append(member)
            elif kind == "participant-removed" and member in members:
                members.remove(member)
            elif kind == "participant-left" and actor in members:
                members.remove(actor)
            elif kind == "group-name-change":
                group["displayName"] = title
            elif kind == "group-icon-changed":
                group["icon"] = icon
            elif kind == "group-icon-removed":
                group.pop("icon", None)
            rows = {a: n for n, a in enumerate(sorted({*members, member or "", actor or ""}), 1)}
            participants = [{"address": a, "originalROWID": rows[a]} for a in members]
        message = self._message(chat, "", from_me=actor is None, sender=actor)
        message.update(
            itemType=item_type,
            groupActionType=action,
            groupTitle=title,
            otherHandle=rows.get(member or "", 0),
            chats=[
                {
                    "guid": chat,
                    "style": 43,
                    "displayName": group.get("displayName"),
                    **({"participants": participants} if listed else {}),
                }
            ],
        )
        self.emit(kind, message)
        return message

    def read_on_mac(self, chat: str, read: bool = True) -> None:
        """The Mac's user read (or marked unread) the chat in Messages."""
        self.emit("chat-read-status-changed", {"chatGuid": chat, "read": read})

    def typing(self, sender: str, display: bool) -> None:
        self.emit("typing-indicator", {"display": display, "guid": f"iMessage;-;{sender}"})

    def _message(
        self, chat: str, text: str, *, from_me: bool, sender: str | None, temp: str | None = None
    ) -> dict[str, Any]:
        guid = str(uuid.uuid4()).upper()
        message = {
            "guid": guid,
            "tempGuid": temp,
            "text": text,
            "handle": {"address": sender} if sender else None,
            "isFromMe": from_me,
            "dateCreated": self._next_ms(),
            "dateDelivered": None,
            "dateRead": None,
            "isDelivered": False,
            "error": 0,
            "chats": [{"guid": chat}],
            "associatedMessageGuid": None,
            "associatedMessageType": None,
            "threadOriginatorGuid": None,
            "expressiveSendStyleId": None,
            "attachments": [],
        }
        with self._lock:
            self.state.messages[guid] = message
        return message

    # --- the server ---------------------------------------------------------------------

    def start(self) -> None:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _answer(self, status: int, message: str, data: Any = None) -> None:
                body: dict[str, Any] = {"status": status, "message": message}
                if data is not None:
                    body["data"] = data
                if status >= 400:
                    body["error"] = {"type": "Error", "message": message}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _serve(self, method: str) -> None:
                if peer.state.stall:
                    time.sleep(peer.state.stall)
                split = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(split.query).items()}
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                content_type = self.headers.get("content-type") or ""
                if content_type.startswith("multipart/form-data"):
                    body = _form(content_type, raw)
                else:
                    try:
                        body = json.loads(raw) if raw else {}
                    except ValueError:
                        body = {}
                token = query.get("guid") or query.get("password") or query.get("token")
                if token != peer.state.password:
                    self._answer(401, "You are not authorized to access this resource")
                    return
                path = unquote(split.path.removeprefix("/api/v1/"))
                with peer._lock:
                    peer.state.calls.append(Call(method, path, body))
                if (
                    method == "GET"
                    and path.startswith("attachment/")
                    and path.endswith("/download")
                ):
                    self._file(path.split("/")[1])
                    return
                if method == "GET" and path.startswith("chat/") and path.endswith("/icon"):
                    self._icon(path.removeprefix("chat/").removesuffix("/icon"))
                    return
                status, message, data = peer._route(method, path, query, body)
                self._answer(status, message, data)

            def _icon(self, chat: str) -> None:
                with peer._lock:
                    icon = peer.state.chats.get(chat, {}).get("icon")
                if icon is None:
                    self._answer(404, "Unable to find icon for the selected chat")
                    return
                self._bytes(*icon)

            def _bytes(self, mime: str, data: bytes) -> None:
                self.send_response(200)
                self.send_header("content-type", mime)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _file(self, guid: str) -> None:
                with peer._lock:
                    found = peer.state.files.get(guid)
                if found is None:
                    self._answer(404, "Attachment does not exist!")
                    return
                _, mime, data = found
                self._bytes(mime, data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    _PRIVATE = ("message/react", "handle/availability/imessage", "chat/new")
    _PRIVATE_SUFFIXES = (
        "/edit",
        "/unsend",
        "/typing",
        "/read",
        "/leave",
        "/participant/add",
        "/icon",
    )

    def _route(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, str, Any]:
        state = self.state
        private = path in self._PRIVATE or path.endswith(
            (*self._PRIVATE_SUFFIXES, "/participant/remove")
        )
        # A rename (PUT chat/:guid {displayName}) goes through the Private API too.
        private = private or (method == "PUT" and path.startswith("chat/"))
        if private and not state.private_api:
            return 500, PRIVATE_API_OFF, None
        if path == "ping":
            return 200, "Ping received!", "pong"
        if path == "server/info":
            return (
                200,
                "Success",
                {
                    "private_api": state.private_api,
                    "helper_connected": state.private_api,
                },
            )
        if path == "handle/availability/imessage":
            return 200, "Success", {"available": query.get("address") not in state.unreachable}
        if path == "webhook" and method == "GET":
            return 200, "Successfully fetched webhooks!", list(state.webhooks)
        if path == "webhook" and method == "POST":
            number = max((h["id"] for h in state.webhooks), default=0) + 1
            hook = {"id": number, "url": body["url"], "events": body["events"]}
            state.webhooks.append(hook)
            return 200, "Successfully created webhook!", hook
        if method == "DELETE" and path.startswith("webhook/"):
            kept = [h for h in state.webhooks if str(h["id"]) != path.split("/", 1)[1]]
            if len(kept) == len(state.webhooks):
                return 404, "Webhook does not exist!", None
            state.webhooks[:] = kept
            return 200, "Successfully deleted webhook!", None
        if path == "message/text":
            return self._send_text(body)
        if path == "message/attachment":
            return self._send_attachment(body)
        if path == "chat/new":
            guid = f"iMessage;+;chat{uuid.uuid4().hex[:12]}"
            state.chats[guid] = {"guid": guid, "participants": list(body.get("addresses", []))}
            sent = self._message(guid, body.get("message", ""), from_me=True, sender=None)
            return 200, "Successfully created chat!", {**state.chats[guid], "messages": [sent]}
        if method == "POST" and path.startswith("chat/") and path.endswith("/icon"):
            upload = body.get("icon")
            if not isinstance(upload, tuple) or not upload[2]:
                return 400, "Icon not provided or was empty!", None
            state.chats[path[5:-5]]["icon"] = (upload[1], upload[2])
            return 200, "Successfully set group chat icon!", None
        if method == "GET" and path.startswith("chat/") and path[5:] in state.chats:
            group = state.chats[path[5:]]
            listed = [{"address": a} for a in group["participants"]]
            return 200, "Success", {**group, "participants": listed}
        if path == "message/react":
            if body.get("selectedMessageGuid") not in state.messages:
                return 404, "Selected message does not exist!", None
            return 200, "Reaction sent!", {"guid": str(uuid.uuid4()).upper()}
        if path.startswith(("message/", "chat/")):
            return 200, "Success", None
        return 404, "Route not found", None

    def _send_text(self, body: dict[str, Any]) -> tuple[int, str, Any]:
        chat = body.get("chatGuid")
        if not isinstance(chat, str) or not chat:
            return 400, "Validation error: chatGuid is required", None
        method = body.get("method") or "apple-script"
        if body.get("effectId") or body.get("selectedMessageGuid"):
            method = "private-api"
        if method == "private-api" and not self.state.private_api:
            return 500, PRIVATE_API_OFF, None
        if method == "apple-script" and not body.get("tempGuid"):
            return 400, "A 'tempGuid' is required when sending via AppleScript", None
        message = self._message(
            chat, body.get("message", ""), from_me=True, sender=None, temp=body.get("tempGuid")
        )
        message["expressiveSendStyleId"] = body.get("effectId")
        message["threadOriginatorGuid"] = body.get("selectedMessageGuid")
        recipient = chat.split(";-;", 1)[-1]
        if recipient in self.state.unreachable:
            message["error"] = NOT_REGISTERED
            return 500, "Message sent with an error. See attached message", message
        return 200, "Message sent!", message

    def _send_attachment(self, body: dict[str, Any]) -> tuple[int, str, Any]:
        upload = body.get("attachment")
        if not body.get("chatGuid") or not body.get("name"):
            return 400, "Validation error: chatGuid and name are required", None
        if not isinstance(upload, tuple) or not upload[2]:
            return 400, "Attachment not provided or was empty!", None
        private = body.get("effectId") or body.get("selectedMessageGuid")
        if private and not self.state.private_api:
            return 500, PRIVATE_API_OFF, None
        if not private and not body.get("tempGuid"):
            return 400, "A 'tempGuid' is required when sending via AppleScript", None
        message = self._message(
            body["chatGuid"], "\ufffc", from_me=True, sender=None, temp=body.get("tempGuid")
        )
        message["attachments"] = [self._keep(body["name"], upload[1], upload[2])]
        message["expressiveSendStyleId"] = body.get("effectId")
        message["threadOriginatorGuid"] = body.get("selectedMessageGuid")
        return 200, "Attachment sent!", message


def _form(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data body: fields as strings, the file as (name, type, bytes)."""
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"content-type: {content_type}\r\n\r\n".encode() + raw
    )
    form: dict[str, Any] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            form[str(name)] = (filename, part.get_content_type(), data)
        else:
            form[str(name)] = data.decode()
    return form


@contextmanager
def running_peer(password: str = "mac-secret") -> Iterator[BlueBubblesPeer]:
    peer = BlueBubblesPeer(password)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


# The action kinds the carrier contract may expect BlueBubbles to carry out on a chat whose
# message never reached the Mac: reactions and edits need the message's GUID (refused
# without it), and kinds Messages has no BlueBubbles route for are refused (2011).
CONTRACT_ACTIONS = frozenset(
    {
        "typing_started",
        "typing_stopped",
        "chat_read",
        "group_renamed",
        "participant_added",
        "participant_removed",
        "chat_left",
    }
)
