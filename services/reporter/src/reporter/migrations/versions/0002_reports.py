"""Report projections, weekly runs, jobs, stored reports and deliveries.

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

SCHEMA = "reporter"
UUID = postgresql.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)
TEXTS = postgresql.ARRAY(sa.Text)
MONEY = sa.Numeric(12, 6)


def upgrade() -> None:
    op.create_table(
        "gyms",
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("franchise_id", UUID),
        sa.Column("franchise_name", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("manager_emails", TEXTS, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("franchise_owner_emails", TEXTS, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("gym_id", name="pk_gyms"),
        schema=SCHEMA,
    )
    op.create_index("ix_gyms_franchise_id", "gyms", ["franchise_id"], schema=SCHEMA)
    op.create_table(
        "members",
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("first_name", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("joined_at", sa.Date),
        sa.Column("cancelled_at", sa.Date),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_members"),
        schema=SCHEMA,
    )
    op.create_index("ix_members_gym_id", "members", ["gym_id"], schema=SCHEMA)
    op.create_table(
        "sessions",
        sa.Column("session_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("member_id", UUID),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("cost_usd", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_sessions"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sessions_gym_id_ended_at", "sessions", ["gym_id", "ended_at"], schema=SCHEMA
    )
    op.create_table(
        "summaries",
        sa.Column("session_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("member_id", UUID),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("sentiment_label", sa.Text, nullable=False),
        sa.Column("sentiment_score", sa.Float, nullable=False),
        sa.Column("topics", TEXTS, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("follow_ups", TEXTS, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("cost_usd", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_summaries"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_summaries_gym_id_ended_at", "summaries", ["gym_id", "ended_at"], schema=SCHEMA
    )
    op.create_table(
        "check_ins",
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("checked_in_at", TS, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.PrimaryKeyConstraint("member_id", "checked_in_at", name="pk_check_ins"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_check_ins_gym_id_checked_in_at",
        "check_ins",
        ["gym_id", "checked_in_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "alerts",
        sa.Column("alert_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("risk", sa.Float),
        sa.Column("band", sa.Text),
        sa.Column("raised_at", TS),
        sa.Column("resolved_at", TS),
        sa.Column("resolution", sa.Text),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alerts"),
        schema=SCHEMA,
    )
    op.create_index("ix_alerts_gym_id", "alerts", ["gym_id"], schema=SCHEMA)
    op.create_table(
        "report_runs",
        sa.Column("tick_id", sa.Text, nullable=False),
        sa.Column("slot", TS, nullable=False),
        sa.Column("jobs", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("tick_id", name="pk_report_runs"),
        schema=SCHEMA,
    )
    op.create_table(
        "report_jobs",
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("subject_id", UUID, nullable=False),
        sa.Column("week_start", sa.Date, nullable=False),
        sa.Column("tick_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("due_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("scope", "subject_id", "week_start", name="pk_report_jobs"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_jobs_status_due_at", "report_jobs", ["status", "due_at"], schema=SCHEMA
    )
    op.create_table(
        "reports",
        sa.Column("report_id", UUID, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("subject_id", UUID, nullable=False),
        sa.Column("gym_id", UUID),
        sa.Column("franchise_id", UUID),
        sa.Column("iso_week", sa.Text, nullable=False),
        sa.Column("week_start", sa.Date, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("content", postgresql.JSONB, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("generated_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("report_id", name="pk_reports"),
        sa.UniqueConstraint(
            "scope", "subject_id", "week_start", name="uq_reports_scope_subject_id_week_start"
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "deliveries",
        sa.Column("report_id", UUID, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TS),
        sa.PrimaryKeyConstraint("report_id", "recipient", name="pk_deliveries"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "deliveries",
        "reports",
        "report_jobs",
        "report_runs",
        "alerts",
        "check_ins",
        "summaries",
        "sessions",
        "members",
        "gyms",
    ):
        op.drop_table(table, schema=SCHEMA)
