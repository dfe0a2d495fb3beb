"""``openlinq mcp``: the Partner API's operations as MCP tools, for Claude and other agents.

The MCP server is a client of an openlinq server's HTTP API (local or remote), like the CLI's
API commands: every tool is one Partner API call made with the caller's API key, and a Linq error
body comes back as a tool error carrying it. It needs the ``mcp`` extra
(``pip install 'openlinq[mcp]'``); nothing here is imported by ``openlinq serve`` or the CLI's
other commands.
"""
