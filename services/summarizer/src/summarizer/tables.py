"""The summarizer schema: every table summarizer owns."""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "summarizer"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)

summaries = Table(
    "conversation_summaries",
    metadata,
    # One summary per session, whatever the redeliveries: the session id is the key.
    Column("session_id", UUID(as_uuid=True), primary_key=True),
    Column("kiosk_id", UUID(as_uuid=True), nullable=False),
    Column("gym_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("franchise_id", UUID(as_uuid=True)),
    Column("member_id", UUID(as_uuid=True)),
    Column("summary", Text, nullable=False),
    # What the member spoke; the summary itself is in the gym's language, `summary_language`.
    Column("language", String(8)),
    Column("summary_language", String(8), nullable=False, server_default="fr"),
    Column("sentiment_label", String(8), nullable=False, server_default="neutral"),
    Column("sentiment_score", Float, nullable=False, server_default=text("0")),
    Column("topics", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("goals", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("follow_ups", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    # [{"kind": "intent_to_cancel" | "complaint" | "price_concern", "evidence": "..."}]
    Column("churn_signals", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("member_satisfied", Boolean),
    Column("provider", String(16), nullable=False, server_default="offline"),
    Column("model", String(100), nullable=False),
    Column("input_tokens", Integer, nullable=False, server_default=text("0")),
    Column("cached_input_tokens", Integer, nullable=False, server_default=text("0")),
    Column("output_tokens", Integer, nullable=False, server_default=text("0")),
    Column("cost_usd", Numeric(12, 6), nullable=False, server_default=text("0")),
    Column("session_ended_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "sentiment_label IN ('positive', 'neutral', 'negative')", name="sentiment_label"
    ),
    CheckConstraint("sentiment_score BETWEEN -1 AND 1", name="sentiment_score"),
)
