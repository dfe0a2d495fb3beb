"""openlinq: a self-hostable server for the Linq Partner API v3."""

__version__ = "0.1.0"
