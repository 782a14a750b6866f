"""The gateway schema: every table session-gateway owns."""

from sqlalchemy import Column, DateTime, Numeric, String, Table
from sqlalchemy.dialects.postgresql import JSONB, UUID

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "gateway"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)

sessions = Table(
    "sessions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kiosk_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("franchise_id", UUID(as_uuid=True)),
    Column("member_id", UUID(as_uuid=True)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", String(40)),
    Column("transcript", JSONB, nullable=False),
    Column("usage", JSONB, nullable=False),
    Column("cost_usd", Numeric(12, 6), nullable=False),
)
