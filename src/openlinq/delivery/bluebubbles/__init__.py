"""The BlueBubbles carrier: iMessage through a Mac running the BlueBubbles server."""
