"""Signing deliveries: Standard Webhooks headers plus the legacy X-Webhook-* set.

Standard Webhooks: ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``{webhook-id}.{webhook-timestamp}.{body}`` keyed with the base64-decoded secret
(done by the ``standardwebhooks`` library, the one the official SDK verifies with).

Legacy: ``X-Webhook-Signature`` is the hex HMAC-SHA256 of ``{timestamp}.{body}``
keyed with the signing secret exactly as it was handed out (the whole
``whsec_...`` string, UTF-8), which is what the platform's FAQ tells receivers
to compute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def legacy_signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    *,
    event_id: str,
    event_type: str,
    subscription_id: str,
    body: bytes,
    sent_at: datetime,
) -> dict[str, str]:
    timestamp = int(sent_at.timestamp())
    signature = Webhook(secret).sign(event_id, sent_at, body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "x-webhook-event": event_type,
        "x-webhook-subscription-id": subscription_id,
        "x-webhook-timestamp": str(timestamp),
        "x-webhook-signature": legacy_signature(secret, timestamp, body),
    }
