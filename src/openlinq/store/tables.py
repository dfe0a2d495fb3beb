"""The schema. Rows are storage; domain records are built from them in repos/."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from openlinq.store.types import JSONDocument, SerialKey, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(36)

# A webhook delivery still on its way. Literal values, not parameters: the query planners
# use a partial index only for a query whose condition visibly matches the index's.
OPEN_DELIVERY = text("status IN ('pending', 'retrying')")

server_settings = Table(
    "server_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # NULL means the platform default; 0 means no limit.
    Column("pair_limit_per_minute", Integer, nullable=True),
    Column("daily_message_limit", Integer, nullable=True),
    # Ephemeral tier: messages are purged this many hours after creation (NULL: kept).
    Column("retention_hours", Float, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(200), nullable=True),
    # Only generated keys keep a few characters in clear (domain/accounts.shown_prefix).
    Column("prefix", String(16), nullable=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

lines = Table(
    "lines",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("phone_number", String(20), nullable=False, unique=True),
    Column("line_type", String(16), nullable=False),
    Column("rcs_enabled", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reputation", String(16), nullable=False),
    Column("forwarding_number", String(20), nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retention_hours", Float, nullable=True),
    # Released by the operator: kept for the history of its chats, gone from the account.
    Column("released_at", UTCDateTime, nullable=True),
    Column("zero_retention", Boolean, nullable=False, server_default=false()),
    # The simulator's injected failure (3007 / 4001) for group name and icon updates.
    Column("sim_group_update_error", Integer, nullable=True),
)

chats = Table(
    "chats",
    metadata,
    Column("seq", SerialKey, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("line_id", ID, ForeignKey("lines.id"), nullable=False),
    Column("is_group", Boolean, nullable=False),
    Column("service", String(16), nullable=False),
    Column("display_name", String(255), nullable=True),
    Column("group_icon", Text, nullable=True),
    # The applied background: {"type", "variant", "style", "shades", "attachment_id"}.
    Column("background", JSONDocument, nullable=True),
    Column("health", String(16), nullable=False),
    Column("health_updated_at", UTCDateTime, nullable=False),
    Column("recipient_key", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_activity_at", UTCDateTime, nullable=False),
    Column("left_at", UTCDateTime, nullable=True),
    Index("ix_chats_account_activity", "account_id", "last_activity_at", "seq"),
    Index("ix_chats_account_recipients", "account_id", "recipient_key"),
)

chat_handles = Table(
    "chat_handles",
    metadata,
    Column("id", ID, primary_key=True),
    Column("chat_id", ID, ForeignKey("chats.id"), nullable=False, index=True),
    Column("handle", String(320), nullable=False, index=True),
    Column("service", String(16), nullable=False),
    Column("is_me", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("left_at", UTCDateTime, nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", SerialKey, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("chat_id", ID, ForeignKey("chats.id"), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("sender_handle", String(320), nullable=False),
    Column("parts", JSONDocument, nullable=False),
    Column("effect", JSONDocument, nullable=True),
    Column("reply_to_id", ID, nullable=True),
    Column("reply_to_part", Integer, nullable=True),
    Column("thread_root_id", ID, nullable=True, index=True),
    Column("preferred_service", String(16), nullable=True),
    Column("service", String(16), nullable=False),
    Column("delivery_status", String(16), nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("request_hash", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("read_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),
    Column("error_code", Integer, nullable=True),
    Column("error_reason", Text, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("extra", JSONDocument, nullable=False),
    UniqueConstraint("account_id", "idempotency_key"),
    Index("ix_messages_chat_seq", "chat_id", "seq"),
    Index("ix_messages_expires_at", "expires_at"),
)

opt_outs = Table(
    "opt_outs",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), primary_key=True),
    Column("handle", String(320), primary_key=True),
    Column("chat_id", ID, nullable=False),
    Column("keyword", String(32), nullable=False),
    Column("opted_out_at", UTCDateTime, nullable=False),
)

reactions = Table(
    "reactions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False, index=True),
    Column("part_index", Integer, nullable=False),
    Column("handle", String(320), nullable=False),
    Column("is_me", Boolean, nullable=False),
    Column("type", String(16), nullable=False),
    Column("custom_emoji", String(64), nullable=True),
    # An image sticker: {"attachment_id", "file_name", "mime_type"}.
    Column("sticker", JSONDocument, nullable=True),
    # A sticker's {"x", "y", "scale", "rotation"} (fields it was never given are absent);
    # NULL on stickers peeled before placement was recorded, which cannot be moved.
    Column("placement", JSONDocument, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

blocked_handles = Table(
    "blocked_handles",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), primary_key=True),
    Column("handle", String(320), primary_key=True),
    Column("reason", Text, nullable=True),
    Column("blocked_at", UTCDateTime, nullable=False),
    Index("ix_blocked_handles_account_time", "account_id", "blocked_at"),
)

# Inbound traffic dropped because its sender was blocked: what the operator can look at.
blocked_inbound = Table(
    "blocked_inbound",
    metadata,
    Column("seq", SerialKey, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("handle", String(320), nullable=False),
    Column("line_number", String(32), nullable=False),
    Column("chat_id", ID, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_blocked_inbound_account_seq", "account_id", "seq"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("payload", JSONDocument, nullable=False),
    Column("run_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("trace_id", String(32), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("dead_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_jobs_due", "dead_at", "run_at"),
)

events = Table(
    "events",
    metadata,
    Column("seq", SerialKey, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("type", String(64), nullable=False),
    Column("phone_number", String(20), nullable=True),
    Column("trace_id", String(32), nullable=False),
    Column("data", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

sim_devices = Table(
    "sim_devices",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), primary_key=True),
    Column("handle", String(320), primary_key=True),
    Column("profile", JSONDocument, nullable=False),
    Column("state", JSONDocument, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("target_url", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("subscribed_events", JSONDocument, nullable=False),
    Column("phone_numbers", JSONDocument, nullable=True),
    Column("is_active", Boolean, nullable=False),
    Column("routing_id_header", String(128), nullable=True),
    Column("routing_key_header", String(128), nullable=True),
    Column("failing_since", UTCDateTime, nullable=True),
    Column("disabled_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "target_url"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("seq", SerialKey, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column(
        "subscription_id",
        ID,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", ID, ForeignKey("events.id"), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("subscription_id", "event_id"),
    Index("ix_webhook_deliveries_subscription_seq", "subscription_id", "seq"),
    # The console's log of every subscription of an account, newest first.
    Index("ix_webhook_deliveries_account_seq", "account_id", "seq"),
    # Only deliveries still on their way: the oldest one (/metrics' outbox lag) is one lookup.
    # Migration 0010 makes it partial on PostgreSQL too; naming postgresql_where here would
    # load the PostgreSQL dialect (2 MiB) into every server on SQLite.
    Index(
        "ix_webhook_deliveries_open",
        "created_at",
        sqlite_where=OPEN_DELIVERY,
    ),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", ID, primary_key=True),
    Column(
        "delivery_id",
        ID,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempted_at", UTCDateTime, nullable=False),
    # 1, 2, ... per delivery: on a manual clock several attempts share an instant.
    Column("number", Integer, nullable=True),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("response_snippet", Text, nullable=True),
    # What was sent, exactly (null for attempts logged before 0009 and for refused ones).
    Column("request_headers", JSONDocument, nullable=True),
    Column("request_body", Text, nullable=True),
)

webhook_routing_tokens = Table(
    "webhook_routing_tokens",
    metadata,
    Column(
        "subscription_id",
        ID,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("chat_id", ID, primary_key=True),
    Column("token", String(512), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

message_edits = Table(
    "message_edits",
    metadata,
    Column("id", ID, primary_key=True),
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False, index=True),
    Column("part_index", Integer, nullable=False),
    Column("previous_text", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("edited_at", UTCDateTime, nullable=False),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("source_url", Text, nullable=True),
    Column("failure", Text, nullable=True),
    Column("upload_expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
)

# One row per counted action, for sliding-window limits shared by every process.
rate_hits = Table(
    "rate_hits",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_rate_hits_key_at", "key", "at"),
)

contact_cards = Table(
    "contact_cards",
    metadata,
    Column("line_id", ID, ForeignKey("lines.id"), primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=True),
    Column("image_url", Text, nullable=True),
    Column("is_active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

location_shares = Table(
    "location_shares",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("line_id", ID, ForeignKey("lines.id"), nullable=False),
    Column("handle", String(320), nullable=False),
    Column("chat_id", ID, nullable=True),
    Column("longitude", Float, nullable=False),
    Column("latitude", Float, nullable=False),
    Column("altitude", Float, nullable=True),
    Column("address", Text, nullable=True),
    Column("locality", Text, nullable=True),
    Column("began_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime, nullable=True),
    Index("ix_location_shares_line_handle", "line_id", "handle"),
)

# A poll is a message (its definition message); its options and votes live here.
poll_options = Table(
    "poll_options",
    metadata,
    Column("id", ID, primary_key=True),
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False),
    # Options keep the order they were created in (add-only: never reordered).
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("creator_handle", String(320), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("message_id", "position"),
)

poll_votes = Table(
    "poll_votes",
    metadata,
    Column("option_id", ID, ForeignKey("poll_options.id"), primary_key=True),
    Column("handle", String(320), primary_key=True),
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False, index=True),
    Column("voted_at", UTCDateTime, nullable=False),
)

# Reputation audits (EXTRA): one row per audit, readable for 24 hours, then swept.
reputation_audits = Table(
    "reputation_audits",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("line_id", ID, ForeignKey("lines.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    # The report as served (rendered once, when the audit completes).
    Column("report", JSONDocument, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("generated_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Index("ix_reputation_audits_line_created", "line_id", "created_at"),
    Index("ix_reputation_audits_created_at", "created_at"),
)

# -- agent payments (simulated agentcard provider) ------------------------------------------

# One row per account and provider: the organisation's onboarding at the provider.
payment_providers = Table(
    "payment_providers",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), primary_key=True),
    Column("provider", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("session_id", String(64), nullable=True, unique=True),
    Column("return_url", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A customer's grant to the account (the OTP + consent ceremony and its outcome).
payment_handle_connections = Table(
    "payment_handle_connections",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), primary_key=True),
    Column("handle", String(320), primary_key=True),
    Column("id", ID, nullable=False),
    Column("status", String(16), nullable=False),
    Column("connect_id", String(64), nullable=True),
    Column("code", String(12), nullable=True),
    Column("code_expires_at", UTCDateTime, nullable=True),
    Column("code_sent_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("connected_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The simulated customer's wallet at the provider: a card on file, passkey approvals.
payment_wallets = Table(
    "payment_wallets",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), primary_key=True),
    Column("handle", String(320), primary_key=True),
    Column("card_on_file", Boolean, nullable=False),
    Column("approval_required", Boolean, nullable=False),
)

agent_payments = Table(
    "agent_payments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("handle", String(320), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", Text, nullable=True),
    Column("merchant", JSONDocument, nullable=True),
    Column("metadata", JSONDocument, nullable=True),
    Column("stage", String(16), nullable=False),
    Column("action_token", String(64), nullable=True, unique=True),
    Column("action_expires_at", UTCDateTime, nullable=True),
    Column("card_ref", String(64), nullable=True, unique=True),
    Column("card_expires_at", UTCDateTime, nullable=True),
    Column("user_token_hash", String(64), nullable=True),
    Column("user_token_expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "idempotency_key"),
    Index("ix_agent_payments_account_handle", "account_id", "handle"),
)

# Payment requests (simulated Stripe / Natural checkout). The columns are what is looked
# up or filtered; the rest of the contract's object lives in ``details``.
payment_requests = Table(
    "payment_requests",
    metadata,
    Column("seq", SerialKey, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("status", String(16), nullable=False),
    # The payer's last attempt on a request still open: declined or authorized (else NULL).
    Column("payer_state", String(16), nullable=True),
    Column("checkout_session", String(64), nullable=False, unique=True),
    Column("idempotency_key", String(255), nullable=True),
    Column("request_hash", String(64), nullable=True),
    Column("details", JSONDocument, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "idempotency_key"),
    Index("ix_payment_requests_account_seq", "account_id", "seq"),
)

# Per-account payment onboarding, as the operator sets it (no row: the server's default).
payment_accounts = Table(
    "payment_accounts",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id"), primary_key=True),
    Column("stripe_charges_enabled", Boolean, nullable=False),
    Column("natural_onboarded", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The real gateway a line sends through (no row: the simulator). ``sealed`` holds the
# carrier's settings and the line's inbound token, encrypted under a key kept outside
# the database (delivery/sealing.py); ``token_hash`` (SHA-256) finds the line of an
# inbound request without decrypting every row.
line_carriers = Table(
    "line_carriers",
    metadata,
    Column("line_id", ID, ForeignKey("lines.id"), primary_key=True),
    Column("carrier", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("sealed", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A real carrier's own ids for our messages and chats (a BlueBubbles message or chat GUID,
# an SMSC message id per SMS segment), so its callbacks (receipts, tapbacks, replies) find
# what they are about by index, in any process, after a restart. kind: "message" | "chat".
carrier_refs = Table(
    "carrier_refs",
    metadata,
    Column("line_id", ID, ForeignKey("lines.id"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column(
        "message_id",
        ID,
        ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("chat_id", ID, ForeignKey("chats.id", ondelete="CASCADE"), nullable=True, index=True),
    # A message sent in parts (an SMS's segments): this part, how many, and whether the
    # carrier reported this part delivered. A whole message is part 0 of 1.
    Column("part", Integer, nullable=False),
    Column("parts", Integer, nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
