"""The scheduler schema: every table scheduler owns."""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    String,
    Table,
)

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "scheduler"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)

# One row per schedule ever run. Its lock serialises the replicas' rounds for that job;
# `last_slot` is how far they have got (published or skipped), `first_seen_at` where a schedule
# without history starts counting.
schedules = Table(
    "schedules",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("cron", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("last_slot", DateTime(timezone=True)),
)

# The tick log: one row per published tick, in the same transaction as its outbox row. The
# primary key is what makes a slot publish once, whoever publishes it.
ticks = Table(
    "ticks",
    metadata,
    Column("tick_id", String(200), primary_key=True),
    Column("job", String(64), nullable=False),
    Column("slot", DateTime(timezone=True), nullable=False),
    Column("late", Boolean, nullable=False),
    Column("origin", String(16), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("origin IN ('schedule', 'operator')", name="origin"),
    Index("ix_ticks_job_slot", "job", "slot"),
)
