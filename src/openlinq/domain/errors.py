"""The Linq error-code table and the one exception type the domain raises.

Codes, HTTP statuses and messages follow the platform's published table
(docs.linqapp.com/error). The API edge turns a ``LinqError`` into the wire body;
nothing else in the code base chooses an HTTP status.
"""

from __future__ import annotations

from enum import Enum

DOC_URL_BASE = "https://docs.linqapp.com/error/codes"


class ErrorCode(Enum):
    """Every numeric code of the contract: (code, HTTP status, message)."""

    # 1xxx: client / request errors
    MISSING_REQUIRED_FIELD = (1001, 400, "Missing required field")
    INVALID_PHONE_NUMBER = (1002, 400, "Phone number must be in E.164 format")
    INVALID_REQUEST_BODY = (1003, 400, "Invalid request body")
    INVALID_MESSAGE_CONTENT = (1004, 400, "Invalid message content")
    INVALID_PARAMETER = (1005, 400, "Invalid parameter value")
    DIRECT_CHAT_NOT_UPDATABLE = (1006, 409, "Cannot update direct message chats")
    RATE_LIMITED = (1007, 429, "Rate limit exceeded")
    # 2xxx: resource errors
    CHAT_NOT_FOUND = (2001, 404, "Chat not found")
    MESSAGE_NOT_FOUND = (2002, 404, "Message not found")
    ATTACHMENT_NOT_FOUND = (2003, 404, "Attachment not found")
    UNAUTHORIZED = (2004, 401, "Unauthorized")
    ACCESS_DENIED = (2005, 403, "Access denied")
    PHONE_NUMBER_DENIED = (2006, 403, "Phone number permission denied")
    ATTACHMENT_NOT_READY = (2007, 409, "Attachment not ready")
    RECIPIENT_NOT_ALLOWED = (2008, 403, "Recipient not allowed")
    CHAT_BEING_CREATED = (2009, 409, "The chat is still being created")
    SUBSCRIPTION_NOT_FOUND = (2010, 404, "Webhook subscription not found")
    FEATURE_NOT_AVAILABLE = (2011, 403, "Feature not available")
    CONTACT_CARD_NOT_FOUND = (2012, 404, "Contact card not found")
    CHAT_UNAVAILABLE = (2013, 409, "This chat is unavailable")
    CONTACT_CARD_EXISTS = (2014, 409, "Contact card already exists")
    STATE_CONFLICT = (2015, 409, "Operation conflicts with current state")
    GROUP_CHAT_NOT_SUPPORTED = (2016, 409, "Not supported in group chats")
    CHAT_SERVICE_NOT_SUPPORTED = (2017, 409, "Not supported for this chat's service")
    IMESSAGE_APP_SERVICE_UNSUPPORTED = (
        2018,
        400,
        "iMessage app messages can only be sent over iMessage",
    )
    CONTACT_CARD_INCOMPLETE = (2022, 500, "Contact card setup did not complete")
    MENTION_IN_DIRECT_CHAT = (2023, 409, "Mentions are only supported in group chats")
    RECIPIENT_OPTED_OUT = (2024, 403, "Recipient has opted out")
    RECIPIENT_BLOCKED = (2026, 403, "Recipient is blocked")
    LINE_INELIGIBLE = (2027, 403, "Sending line is temporarily ineligible")
    APP_CLIP_SERVICE_UNSUPPORTED = (2028, 400, "App Clips can only be sent over iMessage")
    # 3xxx: server errors
    SERVER_CONNECTION_ERROR = (3001, 503, "Server connection error")
    SERVER_OPERATION_FAILED = (3002, 500, "Server operation failed")
    SERVICE_CONNECTION_ERROR = (3003, 503, "Service connection error")
    SERVICE_OPERATION_FAILED = (3004, 500, "Service operation failed")
    NETWORK_TIMEOUT = (3005, 504, "Network timeout")
    INTERNAL_ERROR = (3006, 500, "Internal server error")
    MAX_DELIVERY_ATTEMPTS = (3007, 500, "Maximum delivery attempts exceeded")
    # 4xxx: delivery errors
    DELIVERY_FAILED = (4001, 500, "Delivery failed")
    PHONE_NOT_AVAILABLE = (4002, 503, "Phone not available")
    WEBHOOK_DELIVERY_FAILED = (4003, 502, "Webhook delivery failed")
    SERVICE_UNAVAILABLE = (4004, 503, "Service unavailable")
    RECIPIENT_UNSUPPORTED_TYPE = (4005, 400, "Recipient does not support this message type")
    DELIVERY_REJECTED = (4006, 500, "Delivery rejected")
    DELIVERY_EXPIRED = (4007, 500, "Delivery expired")
    DELIVERY_CANCELED = (4008, 500, "Delivery canceled")
    NO_RCS_ACCOUNT = (4009, 503, "Sender line has no RCS account")
    CHECK_UNAVAILABLE = (4010, 503, "Capability check could not run")
    # 5xxx: attachment / file errors
    FILE_UPLOAD_FAILED = (5001, 500, "File upload failed")
    FILE_DOWNLOAD_FAILED = (5002, 400, "File download failed")
    FILE_URL_FAILED = (5003, 500, "Failed to generate file URL")
    INVALID_FILE_TYPE = (5004, 400, "Invalid file type")
    FILE_TOO_LARGE = (5005, 413, "File too large")
    CONTENT_TYPE_MISMATCH = (5006, 400, "Content type mismatch")
    IMAGE_DOWNLOAD_FAILED = (5007, 400, "Failed to download image from the provided URL")

    def __init__(self, code: int, http_status: int, default_message: str) -> None:
        self.code = code
        self.http_status = http_status
        self.default_message = default_message

    @property
    def doc_url(self) -> str:
        return f"{DOC_URL_BASE}/{self.code // 1000}xxx/{self.code}/"


class LinqError(Exception):
    """A failure the client can act on, carrying its contract code.

    ``retryable`` tells the SDK (through ``x-should-retry``) whether repeating the
    same request could succeed; business-rule conflicts are final.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        retry_after: int | None = None,
        retryable: bool | None = None,
        http_status: int | None = None,
    ) -> None:
        self.code = code
        self.message = message or code.default_message
        self.retry_after = retry_after
        self.http_status = http_status or code.http_status
        if retryable is None:
            retryable = self.http_status in (429, 503) or self.http_status >= 500
        self.retryable = retryable
        super().__init__(f"{code.code}: {self.message}")
