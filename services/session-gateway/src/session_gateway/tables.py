"""The gateway schema: every table session-gateway owns."""

from sqlalchemy import Column, DateTime, Integer, Numeric, String, Table, func
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
    # open while the conversation runs; the one transition open -> closed publishes
    # session.closed, so two end paths racing cannot both publish it.
    Column("state", String(16), nullable=False, server_default="closed"),
)

# The kiosks the gateway serves, projected from the registry's kiosk.* events, so running a
# conversation never calls the registry. Only a newer config_version replaces the config.
kiosks = Table(
    "kiosks",
    metadata,
    Column("kiosk_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("franchise_id", UUID(as_uuid=True)),
    Column("config_version", Integer, nullable=False),
    Column("config", JSONB, nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
