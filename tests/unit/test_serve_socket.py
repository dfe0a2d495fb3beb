"""The listening socket ``openlinq serve`` binds before anything starts."""

from __future__ import annotations

import asyncio
import socket

import pytest

from openlinq.cli.server import bind


@pytest.mark.anyio
async def test_connections_accepted_on_the_serve_socket_send_without_delay() -> None:
    """asyncio turns Nagle off (TCP_NODELAY) only on sockets made as TCP explicitly; with
    Nagle a response written in two parts waits for the client's delayed ACK (~40 ms)."""
    sock = bind("127.0.0.1", 0)
    nodelay: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            nodelay.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    try:
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert await asyncio.wait_for(nodelay, 10) != 0
        finally:
            writer.close()
            await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
