"""Identifier types: every resource id is a UUID string with its own name."""

from __future__ import annotations

import uuid
from typing import NewType

AccountId = NewType("AccountId", str)
ApiKeyId = NewType("ApiKeyId", str)
LineId = NewType("LineId", str)
ChatId = NewType("ChatId", str)
HandleId = NewType("HandleId", str)
MessageId = NewType("MessageId", str)
AttachmentId = NewType("AttachmentId", str)
JobId = NewType("JobId", str)


def new_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
