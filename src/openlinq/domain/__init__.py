"""The rules of the platform: no HTTP, no SQL."""
