"""Webhooks: subscriptions, fan-out from the event outbox, signed delivery with retries."""
