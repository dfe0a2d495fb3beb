"""``openlinq mcp`` driven by the MCP SDK's own client, against a real openlinq server:
over stdio (the command as Claude Desktop starts it) and over streamable HTTP (bearer keys)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent
from starlette.types import Receive, Scope, Send

from openlinq.mcp_server.partner import PartnerApi
from openlinq.mcp_server.serve import KEY_CACHE_SECONDS, BearerKeys
from openlinq.mcp_server.tools import TOOL_NAMES
from tests.support.receiver import Receiver
from tests.support.server import RunningServer, free_port
from tests.support.tenant import Tenant, fresh_line_number, magic, tenant_on

pytestmark = pytest.mark.anyio

COMMAND = [sys.executable, "-m", "openlinq", "mcp"]


def _env(**variables: str) -> dict[str, str]:
    # Not the caller's LINQ_* variables: each test says what the command gets.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINQ_API_V3_")}
    return env | variables


@asynccontextmanager
async def stdio_session(server: RunningServer, key: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=COMMAND[0],
        args=COMMAND[1:],
        env=_env(LINQ_API_V3_BASE_URL=server.sdk_base_url, LINQ_API_V3_API_KEY=key),
    )
    async with Client(params, read_timeout_seconds=60) as client:
        yield client


@contextmanager
def http_mcp(server: RunningServer) -> Iterator[str]:
    """``openlinq mcp --http`` on a free port, with no key of its own; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [*COMMAND, "--http", "--port", str(port)],
        env=_env(LINQ_API_V3_BASE_URL=server.sdk_base_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "openlinq mcp --http did not come up"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture(scope="module")
def http_url(server: RunningServer) -> Iterator[str]:
    """One ``openlinq mcp --http`` for the module's HTTP tests (it holds no key of its own)."""
    with http_mcp(server) as url:
        yield url


@asynccontextmanager
async def http_session(url: str, key: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60) as client,
    ):
        yield client


def data(result: CallToolResult) -> Any:
    """A successful call's structured content, after checking the text says the same."""
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    assert json.loads(block.text) == result.structured_content
    return result.structured_content


def linq_error(result: CallToolResult) -> dict[str, Any]:
    """A failed call's Linq error object; the text the model reads names the code too."""
    assert result.is_error
    body = result.structured_content
    assert isinstance(body, dict)
    assert body["success"] is False
    assert body["trace_id"]
    block = result.content[0]
    assert isinstance(block, TextContent)
    assert f"code {body['error']['code']}" in block.text
    error: dict[str, Any] = body["error"]
    return error


async def test_over_stdio_an_agent_lists_tools_sends_reads_back_and_sees_linq_errors(
    server: RunningServer, tenant: Tenant
) -> None:
    phone = fresh_line_number()
    async with stdio_session(server, tenant.api_key) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
        assert tuple(tools) == TOOL_NAMES
        for tool in tools.values():
            # What the model reads to choose a tool and fill its arguments.
            assert tool.description
            assert "\n " not in tool.description, tool.name  # dedented
            for name, schema in tool.input_schema.get("properties", {}).items():
                assert schema.get("description"), (tool.name, name)
        send = tools["send_message"].input_schema
        assert send["required"] == ["chat_id"]
        assert {"text", "parts", "reply_to_message_id"} <= set(send["properties"])
        assert tools["list_messages"].annotations is not None
        assert tools["list_messages"].annotations.read_only_hint is True

        lines = data(await mcp.call_tool("list_phone_numbers", {}))
        assert tenant.line in {line["phone_number"] for line in lines["phone_numbers"]}
        created = data(
            await mcp.call_tool(
                "create_chat", {"from_number": tenant.line, "to": [phone], "text": "hello there"}
            )
        )
        chat_id = created["chat"]["id"]
        sent = data(
            await mcp.call_tool("send_message", {"chat_id": chat_id, "text": "second, from MCP"})
        )
        assert sent["chat_id"] == chat_id
        tenant.sim.send(phone, chat_id=chat_id, text="and an answer")
        tenant.sim.settle(2)

        page = data(await mcp.call_tool("list_messages", {"chat_id": chat_id}))
        texts = [m["parts"][0]["value"] for m in page["messages"]]
        assert texts == ["and an answer", "second, from MCP", "hello there"]
        # The same conversation as the SDK reads it.
        assert [m.id for m in tenant.client.chats.messages.list(chat_id)] == [
            m["id"] for m in page["messages"]
        ]
        chats = data(await mcp.call_tool("list_chats", {"to": phone}))
        assert [c["id"] for c in chats["chats"]] == [chat_id]

        missing = await mcp.call_tool("send_message", {"chat_id": "no-such-chat", "text": "x"})
        assert (linq_error(missing)["status"], linq_error(missing)["code"]) == (404, 2001)
        empty = await mcp.call_tool("send_message", {"chat_id": chat_id})
        assert linq_error(empty)["status"] == 400
        assert linq_error(await mcp.call_tool("get_message", {"message_id": "nope"}))["code"] == (
            2002
        )


async def test_over_stdio_reactions_typing_reads_capability_checks_and_webhooks(
    server: RunningServer, tenant: Tenant, receiver: Receiver
) -> None:
    phone = fresh_line_number()
    inbound = tenant.sim.send(phone, to=tenant.line, text="react to me")
    tenant.sim.settle(1)
    async with stdio_session(server, tenant.api_key) as mcp:
        chat_id = inbound["chat_id"]
        message_id = inbound["message_id"]
        done = await mcp.call_tool(
            "react_to_message", {"message_id": message_id, "reaction": "love"}
        )
        assert not done.is_error, done.content
        custom = await mcp.call_tool(
            "react_to_message", {"message_id": message_id, "reaction": "custom"}
        )
        assert linq_error(custom)["status"] == 400  # custom needs custom_emoji
        for tool in ("start_typing", "stop_typing", "mark_chat_read"):
            answer = await mcp.call_tool(tool, {"chat_id": chat_id})
            assert not answer.is_error, (tool, answer.content)
            assert answer.structured_content is None  # 204: nothing but a line of text
        tenant.sim.settle(1)
        message = data(await mcp.call_tool("get_message", {"message_id": message_id}))
        assert [r["type"] for r in message["parts"][0]["reactions"]] == ["love"]

        imessage = data(await mcp.call_tool("check_imessage", {"address": magic("01")}))
        assert (imessage["available"], imessage["selected_service"]) == (False, "SMS")
        rcs = data(await mcp.call_tool("check_rcs", {"address": magic("02")}))
        assert rcs["available"] is True
        assert linq_error(await mcp.call_tool("check_rcs", {"address": "a@b.example"}))[
            "status"
        ] == (400)

        types = data(await mcp.call_tool("list_webhook_events", {}))
        assert "message.received" in types["events"]
        made = data(
            await mcp.call_tool(
                "create_webhook_subscription",
                {"target_url": receiver.url(), "subscribed_events": ["message.received"]},
            )
        )
        assert made["signing_secret"].startswith("whsec_")
        off = data(
            await mcp.call_tool(
                "update_webhook_subscription", {"subscription_id": made["id"], "is_active": False}
            )
        )
        assert off["is_active"] is False
        listed = data(await mcp.call_tool("list_webhook_subscriptions", {}))
        assert [s["id"] for s in listed["subscriptions"]] == [made["id"]]
        gone = await mcp.call_tool("delete_webhook_subscription", {"subscription_id": made["id"]})
        assert not gone.is_error
        again = await mcp.call_tool("delete_webhook_subscription", {"subscription_id": made["id"]})
        assert linq_error(again)["code"] == 2010
    assert tenant.client.webhook_subscriptions.list().subscriptions == []


async def test_over_stdio_a_bad_key_makes_every_call_a_2004_tool_error(
    server: RunningServer,
) -> None:
    async with stdio_session(server, "olq_not_a_key_0123456789abcdef") as mcp:
        error = linq_error(await mcp.call_tool("list_chats", {}))
    assert (error["status"], error["code"]) == (401, 2004)


def test_stdio_without_an_api_key_refuses_to_start(server: RunningServer) -> None:
    done = subprocess.run(
        COMMAND,
        env=_env(LINQ_API_V3_BASE_URL=server.sdk_base_url),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "no API key" in done.stderr


def test_without_the_mcp_extra_the_command_says_what_to_install() -> None:
    # As in an environment `make serve` made: no mcp package (None in sys.modules: not importable).
    without_mcp = "import sys; sys.modules['mcp'] = None; from openlinq.cli import app; app()"
    done = subprocess.run(
        [sys.executable, "-c", without_mcp, "mcp", "--api-key", "olq_any_key_0123456789abcdef"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "openlinq: the MCP server needs the mcp extra: pip install 'openlinq[mcp]' "
        "(in a checkout: .venv/bin/pip install -e '.[mcp]')"
    )


async def test_an_unreachable_openlinq_is_a_3001_tool_error() -> None:
    params = StdioServerParameters(
        command=COMMAND[0],
        args=COMMAND[1:],
        env=_env(
            LINQ_API_V3_BASE_URL=f"http://127.0.0.1:{free_port()}/api/partner",
            LINQ_API_V3_API_KEY="olq_any_key_0123456789abcdef",
        ),
    )
    async with Client(params, read_timeout_seconds=60) as mcp:
        error = linq_error(await mcp.call_tool("list_phone_numbers", {}))
    assert error["code"] == 3001
    assert "cannot reach openlinq" in error["message"]


async def test_over_http_each_request_uses_its_own_bearer_key(
    server: RunningServer, http_url: str
) -> None:
    url = http_url
    with tenant_on(server) as alice, tenant_on(server) as bob:
        phone = fresh_line_number()
        async with http_session(url, alice.api_key) as mcp:
            assert tuple(t.name for t in (await mcp.list_tools()).tools) == TOOL_NAMES
            created = data(
                await mcp.call_tool(
                    "create_chat", {"from_number": alice.line, "to": [phone], "text": "hi"}
                )
            )
            chat_id = created["chat"]["id"]
            page = data(await mcp.call_tool("list_messages", {"chat_id": chat_id}))
            assert [m["parts"][0]["value"] for m in page["messages"]] == ["hi"]
        async with http_session(url, bob.api_key) as mcp:
            # Bob's key: Alice's chat does not exist for him.
            error = linq_error(await mcp.call_tool("get_chat", {"chat_id": chat_id}))
            assert (error["status"], error["code"]) == (404, 2001)
            chats = data(await mcp.call_tool("list_chats", {}))
            assert chats["chats"] == []


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "missing Bearer API key"),
        ("Basic dXNlcjpwYXNz", "missing Bearer API key"),
        ("Bearer olq_not_a_key_0123456789abcdef", "invalid API key"),
    ],
    ids=["no header", "not bearer", "unknown key"],
)
def test_over_http_a_request_without_a_valid_key_is_refused_with_401_2004(
    http_url: str, authorization: str | None, message: str
) -> None:
    headers = MCP_HEADERS | ({"Authorization": authorization} if authorization else {})
    answer = httpx.post(http_url, json=INITIALIZE, headers=headers, timeout=30)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    body = answer.json()
    assert (body["success"], body["error"]["status"], body["error"]["code"]) == (False, 401, 2004)
    assert body["error"]["message"] == message


async def test_over_http_the_sdk_client_without_a_key_cannot_connect(http_url: str) -> None:
    with pytest.raises(BaseExceptionGroup) as refused:
        async with http_session(http_url, None) as mcp:
            await mcp.list_tools()
    # The SDK reports the 401 to initialize as an error response.
    assert refused.group_contains(MCPError, match="error response")


async def test_over_http_a_revoked_key_is_refused_once_its_acceptance_expires(
    server: RunningServer, tenant: Tenant
) -> None:
    """The MCP endpoint remembers an accepted key for KEY_CACHE_SECONDS, no longer."""

    async def reached(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    now = [1000.0]
    api = PartnerApi(server.sdk_base_url)
    gate = BearerKeys(reached, api, lambda: now[0])
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gate), base_url="http://mcp.test"
    ) as http:
        assert (await http.post("/mcp", headers=headers)).status_code == 204
        (key,) = server.call(server.services.accounts.keys, tenant.account_id)
        assert server.call(server.services.accounts.revoke_key, key["id"])
        now[0] += KEY_CACHE_SECONDS - 1
        assert (await http.post("/mcp", headers=headers)).status_code == 204
        now[0] += 2
        refused = await http.post("/mcp", headers=headers)
    await api.aclose()
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == 2004
