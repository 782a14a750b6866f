"""The churn schema: every table churn-engine owns.

- the member activity projection: `member_versions` (every `member.upserted`, so a score as of T
  reads the member as it was known before T), `check_ins`, `conversations`, `gym_feeds`;
- scoring: `risk_scores` (one row per member and day), `gym_thresholds`, `models`;
- alerting: `alerts`, `snoozes`;
- `tick_runs`: the ticks already acted on, so a tick delivered twice changes nothing.
"""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "churn"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)

BANDS = ("green", "amber", "red", "insufficient_data")
RESOLUTIONS = ("checked_in", "snoozed", "expired", "manual")

member_versions = Table(
    "member_versions",
    metadata,
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("updated_at", DateTime(timezone=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("status", Text, nullable=False),
    Column("contract_type", Text),
    Column("joined_at", Date),
    Column("contract_ends_at", Date),
    Column("cancelled_at", Date),
)

# Facts, stored once per (member, instant) like the registry stores them; 90 days of them are
# read by every scoring run, so the row is kept narrow (no gym: members carry it).
check_ins = Table(
    "check_ins",
    metadata,
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("checked_in_at", DateTime(timezone=True), primary_key=True),
    Column("group_class", Boolean, nullable=False, server_default=text("false")),
    Index("ix_check_ins_checked_in_at", "checked_in_at", postgresql_using="brin"),
)

# When each gym's check-in feed started: before it, an absence of visits means nothing.
gym_feeds = Table(
    "gym_feeds",
    metadata,
    Column("gym_id", UUID(as_uuid=True), primary_key=True),
    Column("first_check_in_at", DateTime(timezone=True), nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("session_id", UUID(as_uuid=True), primary_key=True),
    Column("member_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("sentiment_score", Float, nullable=False),
    Column("negative", Boolean, nullable=False),
    Column("intent_to_cancel", SmallInteger, nullable=False),
    Column("complaints", SmallInteger, nullable=False),
    Column("topics", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
)

risk_scores = Table(
    "risk_scores",
    metadata,
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("risk", Float),
    Column("band", Text, nullable=False),
    Column("model_version", Text, nullable=False),
    # Up to three reasons as plain columns, strongest first (code, value), and the member's
    # contract type at T (the value of `no_commitment_contract`): a million rows a day are
    # written far faster than as JSON. `churn_engine.reasons.from_row` reads them back.
    Column("reason1", Text),
    Column("value1", Float),
    Column("reason2", Text),
    Column("value2", Float),
    Column("reason3", Text),
    Column("value3", Float),
    Column("contract_type", Text),
    CheckConstraint(f"band IN {BANDS}", name="band"),
    CheckConstraint("(risk IS NULL) = (band = 'insufficient_data')", name="risk_band"),
    Index("ix_risk_scores_gym_id_day", "gym_id", "day"),
)

gym_thresholds = Table(
    "gym_thresholds",
    metadata,
    Column("gym_id", UUID(as_uuid=True), primary_key=True),
    Column("amber", Float, nullable=False),
    Column("red", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("0 < amber AND amber < red AND red < 1", name="order"),
)

# Trained models; `gym_id` NULL is a platform-wide model. The newest active one for a gym wins,
# then the newest active global one, then the documented default (churn_engine.model).
models = Table(
    "models",
    metadata,
    Column("version", Text, primary_key=True),
    Column("gym_id", UUID(as_uuid=True)),
    Column("parameters", JSONB, nullable=False),
    Column("metrics", JSONB, nullable=False),
    Column("trained_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", UUID(as_uuid=True), primary_key=True),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("gym_id", UUID(as_uuid=True), nullable=False),
    Column("risk", Float, nullable=False),
    Column("band", Text, nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("model_version", Text, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    # the moment of the score the alert was raised from: a check-in from then on resolves it
    Column("scored_as_of", DateTime(timezone=True), nullable=False),
    Column("resolution", Text),
    Column("resolved_at", DateTime(timezone=True)),
    CheckConstraint(f"resolution IS NULL OR resolution IN {RESOLUTIONS}", name="resolution"),
    Index("ix_alerts_member_id_raised_at", "member_id", "raised_at"),
    Index("ix_alerts_gym_id_raised_at", "gym_id", "raised_at"),
    # One open alert per member at most.
    Index(
        "uq_alerts_open_member",
        "member_id",
        unique=True,
        postgresql_where=text("resolution IS NULL"),
    ),
)

snoozes = Table(
    "snoozes",
    metadata,
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False),
    Column("until", Date, nullable=False),
    # when the snooze was asked for: an older request retried late does not overwrite a newer one
    Column("snoozed_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

tick_runs = Table(
    "tick_runs",
    metadata,
    Column("tick_id", Text, primary_key=True),
    Column("job", Text, nullable=False),
    Column("slot", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("outcome", JSONB, nullable=False),
)
