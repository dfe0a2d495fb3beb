"""The one durable scheduler for all deferred work."""
