"""The reporter schema: every table reporter owns.

- projections of other services' events, so a report never queries another service: `gyms`,
  `members` (latest state per member), `sessions`, `summaries`, `check_ins`, `alerts`;
- the weekly run: `report_runs` (one per scheduler tick acted on), `report_jobs` (one per gym or
  franchise and week, processed by the background worker), `reports` (the stored content),
  `deliveries` (one per report and recipient: the guard against sending twice).
"""

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "reporter"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)

TS = DateTime(timezone=True)

gyms = Table(
    "gyms",
    metadata,
    Column("gym_id", UUID(as_uuid=True), primary_key=True),
    Column("franchise_id", UUID(as_uuid=True), index=True),
    Column("franchise_name", Text),
    Column("name", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("manager_emails", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("franchise_owner_emails", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("updated_at", TS, nullable=False),
)

# The newest known state of each member (replaced only by a newer `updated_at`).
members = Table(
    "members",
    metadata,
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("first_name", Text),
    Column("status", Text, nullable=False),
    Column("joined_at", Date),
    Column("cancelled_at", Date),
    Column("updated_at", TS, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True)),
    Column("started_at", TS, nullable=False),
    Column("ended_at", TS, nullable=False),
    Column("cost_usd", Numeric(12, 6), nullable=False),
    Index("ix_sessions_gym_id_ended_at", "gym_id", "ended_at"),
)

summaries = Table(
    "summaries",
    metadata,
    Column("session_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True)),
    # When the conversation ended (the envelope's time when the event does not say).
    Column("ended_at", TS, nullable=False),
    Column("sentiment_label", Text, nullable=False),
    Column("sentiment_score", Float, nullable=False),
    Column("topics", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("follow_ups", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("cost_usd", Numeric(12, 6), nullable=False),
    Index("ix_summaries_gym_id_ended_at", "gym_id", "ended_at"),
)

check_ins = Table(
    "check_ins",
    metadata,
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("checked_in_at", TS, primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False),
    Index("ix_check_ins_gym_id_checked_in_at", "gym_id", "checked_in_at"),
)

# One row per alert, merged from raised and resolved whatever order they arrive in.
alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("risk", Float),
    Column("band", Text),
    Column("raised_at", TS),
    Column("resolved_at", TS),
    Column("resolution", Text),
)

report_runs = Table(
    "report_runs",
    metadata,
    Column("tick_id", Text, primary_key=True),
    Column("slot", TS, nullable=False),
    Column("jobs", Integer, nullable=False),
    Column("created_at", TS, nullable=False, server_default=func.now()),
)

# scope 'gym' (subject = gym id) or 'franchise' (subject = franchise id); one per week.
report_jobs = Table(
    "report_jobs",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("subject_id", UUID(as_uuid=True), primary_key=True),
    Column("week_start", Date, primary_key=True),
    Column("tick_id", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("due_at", TS, nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
    Index("ix_report_jobs_status_due_at", "status", "due_at"),
)

reports = Table(
    "reports",
    metadata,
    Column("report_id", UUID(as_uuid=True), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("subject_id", UUID(as_uuid=True), nullable=False),
    Column("gym_id", UUID(as_uuid=True)),
    Column("franchise_id", UUID(as_uuid=True)),
    Column("iso_week", Text, nullable=False),
    Column("week_start", Date, nullable=False),
    Column("language", Text, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("revision", Integer, nullable=False, server_default=text("1")),
    Column("generated_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("scope", "subject_id", "week_start"),
)

# status: pending -> sent | skipped (no SMTP configured) | failed (gave up).
deliveries = Table(
    "deliveries",
    metadata,
    Column("report_id", UUID(as_uuid=True), primary_key=True),
    Column("recipient", Text, primary_key=True),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("message_id", Text, nullable=False),
    Column("last_error", Text),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("sent_at", TS),
)
