"""SMS through an SMPP 3.4 account: one persistent bind per line (see docs/gateways.md)."""
