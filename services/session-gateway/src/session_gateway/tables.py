"""The gateway schema: every table session-gateway owns."""

from sqlalchemy import Column, Date, DateTime, Integer, Numeric, String, Table, Text, func
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
    # the gateway process running an open session, and when it last saved the transcript
    Column("owner", UUID(as_uuid=True)),
    Column("checkpointed_at", DateTime(timezone=True)),
    Column("price_table_version", String(40)),
)

# Gateway processes and their lease: an open session whose owner's lease has expired was left
# behind by a process that died, and another process closes it.
instances = Table(
    "instances",
    metadata,
    Column("instance_id", UUID(as_uuid=True), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# Members, projected from member.upserted, to tell the assistant who it talks to. Only a newer
# updated_at replaces a row.
members = Table(
    "members",
    metadata,
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False),
    Column("first_name", Text),
    Column("language", String(16)),
    Column("status", String(16), nullable=False),
    Column("contract_type", Text),
    Column("contract_ends_at", Date),
    Column("updated_at", DateTime(timezone=True), nullable=False),
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
