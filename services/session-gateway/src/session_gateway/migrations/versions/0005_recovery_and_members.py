"""Crash recovery (session owner, checkpoints, process leases) and the members projection.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.add_column("sessions", sa.Column("owner", postgresql.UUID(as_uuid=True)), schema=SCHEMA)
    op.add_column(
        "sessions", sa.Column("checkpointed_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.add_column("sessions", sa.Column("price_table_version", sa.String(40)), schema=SCHEMA)
    op.create_table(
        "instances",
        sa.Column("instance_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", name="pk_instances"),
        schema=SCHEMA,
    )
    op.create_table(
        "members",
        sa.Column("member_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("gym_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("first_name", sa.Text),
        sa.Column("language", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("contract_type", sa.Text),
        sa.Column("contract_ends_at", sa.Date),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_members"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("members", schema=SCHEMA)
    op.drop_table("instances", schema=SCHEMA)
    op.drop_column("sessions", "price_table_version", schema=SCHEMA)
    op.drop_column("sessions", "checkpointed_at", schema=SCHEMA)
    op.drop_column("sessions", "owner", schema=SCHEMA)
