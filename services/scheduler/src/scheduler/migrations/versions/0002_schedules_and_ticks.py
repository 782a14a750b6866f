"""Schedules (how far each job has got) and the tick log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "scheduler"


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_slot", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("job", name="pk_schedules"),
        schema=SCHEMA,
    )
    op.create_table(
        "ticks",
        sa.Column("tick_id", sa.String(200), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tick_id", name="pk_ticks"),
        sa.CheckConstraint("origin IN ('schedule', 'operator')", name="ck_ticks_origin"),
        schema=SCHEMA,
    )
    op.create_index("ix_ticks_job_slot", "ticks", ["job", "slot"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("ticks", schema=SCHEMA)
    op.drop_table("schedules", schema=SCHEMA)
