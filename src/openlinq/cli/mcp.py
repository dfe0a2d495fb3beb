"""``openlinq mcp``: an MCP server for Claude and other agents, in front of an openlinq API.

The MCP SDK (the ``mcp`` extra) is imported only when the command runs.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from openlinq.cli.common import DEFAULT_BASE_URL, ApiKey, ApiUrl, fail

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def mcp(
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Serve streamable HTTP on --host/--port instead of stdio; every request must "
            "carry an openlinq API key as its bearer token, and its tool calls use that key.",
        ),
    ] = False,
    host: Annotated[
        str, typer.Option(help="With --http: the address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="With --http: the port.")] = 8090,
    api_url: ApiUrl = DEFAULT_BASE_URL,
    api_key: ApiKey = None,
) -> None:
    """Serve the Partner API's operations as MCP tools (stdio by default, for Claude Desktop)."""
    try:
        import mcp as _sdk  # noqa: F401  (only to tell a missing extra apart)
    except ImportError:
        fail(
            "the MCP server needs the mcp extra: pip install 'openlinq[mcp]' "
            "(in a checkout: .venv/bin/pip install -e '.[mcp]')"
        )
    if http:
        from openlinq.mcp_server.serve import run_http

        if host not in LOOPBACK:
            typer.echo(
                f"openlinq mcp: listening on {host}, beyond this machine: put TLS in front",
                err=True,
            )
        run_http(api_url, host, port, lambda line: typer.echo(line, err=True))
        return
    if not api_key:
        fail("no API key: pass --api-key or set LINQ_API_V3_API_KEY", 2)
    from openlinq.mcp_server.serve import run_stdio

    # stdout is the protocol's: nothing else may be written there.
    sys.stdout.flush()
    run_stdio(api_url, api_key)


def register(app: typer.Typer) -> None:
    app.command()(mcp)
