"""The registry schema: every table kiosk-registry owns."""

from sqlalchemy import Column, DateTime, String, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "registry"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)

# Read model for dashboards, fed by session.closed and summary.created. Either event may
# arrive first, so each fills in its own columns of the same row.
conversations = Table(
    "conversations",
    metadata,
    Column("session_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("kiosk_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", String(40)),
    Column("summary", Text),
    Column("sentiment", String(16)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
