"""The summarizer schema: every table summarizer owns."""

from sqlalchemy import Column, DateTime, String, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

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
    Column("language", String(8)),
    Column("model", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
