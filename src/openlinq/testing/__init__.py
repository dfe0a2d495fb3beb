"""Test an agent against openlinq: the pytest plugin's building blocks.

The fixtures live in ``openlinq.testing.plugin`` (loaded by pytest automatically);
these classes work without pytest too.
"""

from openlinq.testing.server import ServerInfo, in_process_server, serve_app
from openlinq.testing.sim import Phone, Received, Sim, TestAccountInfo, create_test_account
from openlinq.testing.sink import Delivery, WebhookSink

__all__ = [
    "Delivery",
    "Phone",
    "Received",
    "ServerInfo",
    "Sim",
    "TestAccountInfo",
    "WebhookSink",
    "create_test_account",
    "in_process_server",
    "serve_app",
]
