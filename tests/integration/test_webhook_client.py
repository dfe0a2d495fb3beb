"""The webhook HTTP client against a real loopback server that answers exactly as scripted.

Each test's server reads whole requests (head and Content-Length body), records them
with the connection they came on, and writes the next scripted answer verbatim, so
framing (Content-Length, chunked, close-delimited), keep-alive and broken answers are
exercised on real sockets.
"""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from openlinq.webhooks.http import (
    ConnectError,
    LocalProtocolError,
    RemoteProtocolError,
    WebhookClient,
)
from tests.support.server import free_port

pytestmark = pytest.mark.anyio

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@dataclass
class Request:
    connection: int
    head: bytes
    body: bytes


@dataclass
class Scripted:
    port: int
    answers: deque[bytes | None] = field(default_factory=deque)  # None: close, no answer
    requests: list[Request] = field(default_factory=list)
    close_after_answer: bool = False

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@asynccontextmanager
async def scripted(*answers: bytes | None) -> AsyncIterator[Scripted]:
    state = Scripted(port=0, answers=deque(answers))
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                state.requests.append(Request(number, head, body))
                answer = state.answers.popleft() if state.answers else OK
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if state.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


async def post(client: WebhookClient, url: str, body: bytes = b'{"a":1}') -> tuple[int, bytes]:
    target, headers = client.request_headers(url, {"content-type": "application/json"}, body)
    answer = await client.post(target, headers, body, sni_hostname=None, snippet_bytes=8)
    return answer.status_code, answer.snippet


async def test_a_post_carries_its_headers_and_body_and_the_answer_is_read() -> None:
    client = WebhookClient()
    async with scripted(
        b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Route: abc\r\n\r\nhello"
    ) as s:
        target, headers = client.request_headers(
            s.url("/hook?a=1"), {"x-webhook-event": "message.sent"}, b"{}"
        )
        answer = await client.post(target, headers, b"{}", sni_hostname=None, snippet_bytes=512)
    await client.aclose()
    (request,) = s.requests
    lines = request.head.decode().split("\r\n")
    assert lines[0] == "POST /hook?a=1 HTTP/1.1"
    assert f"host: 127.0.0.1:{s.port}" in lines
    assert "content-length: 2" in lines
    assert "x-webhook-event: message.sent" in lines
    assert headers["host"] == f"127.0.0.1:{s.port}"  # what the delivery log shows as sent
    assert request.body == b"{}"
    assert (answer.status_code, answer.snippet, answer.headers["x-route"]) == (201, b"hello", "abc")


async def test_deliveries_to_one_endpoint_reuse_one_connection() -> None:
    client = WebhookClient()
    async with scripted() as s:
        for _ in range(3):
            assert await post(client, s.url()) == (200, b"ok")
    await client.aclose()
    assert [r.connection for r in s.requests] == [1, 1, 1]


async def test_a_chunked_answer_is_read_and_its_connection_kept() -> None:
    chunked = (
        b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nabcd\r\n6;x=y\r\nefghij\r\n0\r\n\r\n"
    )
    client = WebhookClient()
    async with scripted(chunked) as s:
        assert await post(client, s.url()) == (500, b"abcdefgh")  # the snippet: 8 bytes
        assert await post(client, s.url()) == (200, b"ok")
    await client.aclose()
    assert [r.connection for r in s.requests] == [1, 1]


async def test_a_close_delimited_answer_ends_with_the_connection() -> None:
    client = WebhookClient()
    async with scripted(b"HTTP/1.1 200 OK\r\n\r\nall of it") as s:
        s.close_after_answer = True
        assert await post(client, s.url()) == (200, b"all of i")
        s.close_after_answer = False
        assert await post(client, s.url()) == (200, b"ok")
    await client.aclose()
    assert [r.connection for r in s.requests] == [1, 2]


async def test_a_huge_answer_is_cut_at_the_snippet_and_its_connection_dropped() -> None:
    huge = b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 100
    client = WebhookClient()
    async with scripted(huge) as s:
        assert await post(client, s.url()) == (200, b"xxxxxxxx")
        assert await post(client, s.url()) == (200, b"ok")
    await client.aclose()
    assert [r.connection for r in s.requests] == [1, 2]


async def test_connection_close_is_honoured() -> None:
    client = WebhookClient()
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    async with scripted(closing) as s:
        assert await post(client, s.url()) == (200, b"")
        assert await post(client, s.url()) == (200, b"ok")
    await client.aclose()
    assert [r.connection for r in s.requests] == [1, 2]


async def test_an_idle_connection_the_endpoint_closed_is_replaced_without_failing() -> None:
    client = WebhookClient()
    # The second request arrives on the kept connection, which the server then drops
    # without answering (as a keep-alive timeout would): it is sent again, on a new one.
    async with scripted(OK, None) as s:
        assert await post(client, s.url()) == (200, b"ok")
        assert await post(client, s.url()) == (200, b"ok")
    await client.aclose()
    assert [r.connection for r in s.requests] == [1, 1, 2]


async def test_an_interim_100_continue_is_skipped() -> None:
    client = WebhookClient()
    async with scripted(b"HTTP/1.1 100 Continue\r\n\r\n" + OK) as s:
        assert await post(client, s.url()) == (200, b"ok")
    await client.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
        None,  # a fresh connection closed without an answer
    ],
)
async def test_a_broken_answer_is_a_protocol_error(answer: bytes | None) -> None:
    client = WebhookClient()
    async with scripted(answer) as s:
        s.close_after_answer = True
        with pytest.raises(RemoteProtocolError):
            await post(client, s.url())
    await client.aclose()


async def test_a_refused_connection_is_a_connect_error() -> None:
    client = WebhookClient()
    with pytest.raises(ConnectError):
        await post(client, f"http://127.0.0.1:{free_port()}/hook")
    await client.aclose()


async def test_a_timed_out_exchange_never_returns_its_connection_to_the_pool() -> None:
    client = WebhookClient()
    async with scripted(b"HTTP/1.1 200 OK\r\n") as s:  # the head never ends
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await post(client, s.url())
        assert await post(client, s.url()) == (200, b"ok")
    await client.aclose()
    assert [r.connection for r in s.requests] == [1, 2]


async def test_credentials_in_the_url_go_as_basic_auth_as_httpx_sent_them() -> None:
    client = WebhookClient()
    async with scripted() as s:
        url = f"http://us%20er:p%40ss@127.0.0.1:{s.port}/hook"
        target, headers = client.request_headers(url, {}, b"{}")
        await client.post(target, headers, b"{}", sni_hostname=None, snippet_bytes=8)
    await client.aclose()
    (request,) = s.requests
    expected = "Basic " + base64.b64encode(b"us er:p@ss").decode()  # httpx.BasicAuth's
    assert f"authorization: {expected}" in request.head.decode().split("\r\n")
    assert f"host: 127.0.0.1:{s.port}" in request.head.decode().split("\r\n")


@pytest.mark.parametrize(
    "header",
    [
        {"x chat id": "a"},  # a name that is no token
        {"x-key": "a\r\nx-injected: 1"},  # a value that would smuggle a header in
        {"x-key": "\u20ac"},  # not Latin-1
    ],
)
async def test_a_header_that_cannot_go_on_the_wire_is_refused_unsent(
    header: dict[str, str],
) -> None:
    client = WebhookClient()
    async with scripted() as s:
        target, headers = client.request_headers(s.url(), header, b"{}")
        with pytest.raises(LocalProtocolError):
            await client.post(target, headers, b"{}", sni_hostname=None, snippet_bytes=8)
    await client.aclose()
    assert s.requests == []


async def test_a_latin_1_routing_key_read_from_an_answer_goes_back_as_it_came() -> None:
    client = WebhookClient()
    keyed = b"HTTP/1.1 200 OK\r\nX-Key: \xe9t\xe9\r\nContent-Length: 0\r\n\r\n"
    async with scripted(keyed) as s:
        target, headers = client.request_headers(s.url(), {}, b"{}")
        answer = await client.post(target, headers, b"{}", sni_hostname=None, snippet_bytes=8)
        assert answer.headers["x-key"] == "\u00e9t\u00e9"
        target, headers = client.request_headers(s.url(), {"x-key": answer.headers["x-key"]}, b"")
        await client.post(target, headers, b"", sni_hostname=None, snippet_bytes=8)
    await client.aclose()
    assert b"\r\nx-key: \xe9t\xe9\r\n" in s.requests[1].head
