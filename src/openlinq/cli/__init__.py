"""The ``openlinq`` command: serve, operate (accounts, keys, lines), drive the simulator,
listen to webhooks and read chats. One module per command group; ``main`` puts them together."""

from openlinq.cli.main import app

__all__ = ["app"]
