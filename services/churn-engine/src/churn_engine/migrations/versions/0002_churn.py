"""The member activity projection, risk scores, models, thresholds, alerts, snoozes, tick runs.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "churn"
UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB
TS = sa.DateTime(timezone=True)
BANDS = ("green", "amber", "red", "insufficient_data")
RESOLUTIONS = ("checked_in", "snoozed", "expired", "manual")


def upgrade() -> None:
    op.create_table(
        "member_versions",
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("contract_type", sa.Text),
        sa.Column("joined_at", sa.Date),
        sa.Column("contract_ends_at", sa.Date),
        sa.Column("cancelled_at", sa.Date),
        sa.PrimaryKeyConstraint("member_id", "updated_at", name="pk_member_versions"),
        schema=SCHEMA,
    )
    op.create_index("ix_member_versions_gym_id", "member_versions", ["gym_id"], schema=SCHEMA)
    op.create_table(
        "check_ins",
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("checked_in_at", TS, nullable=False),
        sa.Column("group_class", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.PrimaryKeyConstraint("member_id", "checked_in_at", name="pk_check_ins"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_check_ins_checked_in_at",
        "check_ins",
        ["checked_in_at"],
        postgresql_using="brin",
        schema=SCHEMA,
    )
    op.create_table(
        "gym_feeds",
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("first_check_in_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("gym_id", name="pk_gym_feeds"),
        schema=SCHEMA,
    )
    op.create_table(
        "conversations",
        sa.Column("session_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("sentiment_score", sa.Float, nullable=False),
        sa.Column("negative", sa.Boolean, nullable=False),
        sa.Column("intent_to_cancel", sa.SmallInteger, nullable=False),
        sa.Column("complaints", sa.SmallInteger, nullable=False),
        sa.Column("topics", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.PrimaryKeyConstraint("session_id", name="pk_conversations"),
        schema=SCHEMA,
    )
    op.create_index("ix_conversations_member_id", "conversations", ["member_id"], schema=SCHEMA)
    op.create_table(
        "risk_scores",
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("risk", sa.Float),
        sa.Column("band", sa.Text, nullable=False),
        sa.Column("model_version", sa.Text, nullable=False),
        sa.Column("reason1", sa.Text),
        sa.Column("value1", sa.Float),
        sa.Column("reason2", sa.Text),
        sa.Column("value2", sa.Float),
        sa.Column("reason3", sa.Text),
        sa.Column("value3", sa.Float),
        sa.Column("contract_type", sa.Text),
        sa.CheckConstraint(f"band IN {BANDS}", name="ck_risk_scores_band"),
        sa.CheckConstraint(
            "(risk IS NULL) = (band = 'insufficient_data')", name="ck_risk_scores_risk_band"
        ),
        sa.PrimaryKeyConstraint("member_id", "day", name="pk_risk_scores"),
        schema=SCHEMA,
    )
    op.create_index("ix_risk_scores_gym_id_day", "risk_scores", ["gym_id", "day"], schema=SCHEMA)
    op.create_table(
        "gym_thresholds",
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("amber", sa.Float, nullable=False),
        sa.Column("red", sa.Float, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("0 < amber AND amber < red AND red < 1", name="ck_gym_thresholds_order"),
        sa.PrimaryKeyConstraint("gym_id", name="pk_gym_thresholds"),
        schema=SCHEMA,
    )
    op.create_table(
        "models",
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("gym_id", UUID),
        sa.Column("parameters", JSONB, nullable=False),
        sa.Column("metrics", JSONB, nullable=False),
        sa.Column("trained_at", TS, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.PrimaryKeyConstraint("version", name="pk_models"),
        schema=SCHEMA,
    )
    op.create_table(
        "alerts",
        sa.Column("alert_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("risk", sa.Float, nullable=False),
        sa.Column("band", sa.Text, nullable=False),
        sa.Column("reasons", JSONB, nullable=False),
        sa.Column("model_version", sa.Text, nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("resolution", sa.Text),
        sa.Column("resolved_at", TS),
        sa.CheckConstraint(
            f"resolution IS NULL OR resolution IN {RESOLUTIONS}", name="ck_alerts_resolution"
        ),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alerts"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_alerts_member_id_raised_at", "alerts", ["member_id", "raised_at"], schema=SCHEMA
    )
    op.create_index("ix_alerts_gym_id_raised_at", "alerts", ["gym_id", "raised_at"], schema=SCHEMA)
    op.create_index(
        "uq_alerts_open_member",
        "alerts",
        ["member_id"],
        unique=True,
        postgresql_where=sa.text("resolution IS NULL"),
        schema=SCHEMA,
    )
    op.create_table(
        "snoozes",
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("until", sa.Date, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("member_id", name="pk_snoozes"),
        schema=SCHEMA,
    )
    op.create_table(
        "tick_runs",
        sa.Column("tick_id", sa.Text, nullable=False),
        sa.Column("job", sa.Text, nullable=False),
        sa.Column("slot", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("outcome", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("tick_id", name="pk_tick_runs"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "tick_runs",
        "snoozes",
        "alerts",
        "models",
        "gym_thresholds",
        "risk_scores",
        "conversations",
        "gym_feeds",
        "check_ins",
        "member_versions",
    ):
        op.drop_table(table, schema=SCHEMA)
