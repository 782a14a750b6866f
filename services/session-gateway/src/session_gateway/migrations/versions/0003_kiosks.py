"""The kiosks the gateway serves, projected from kiosk.* events.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "kiosks",
        sa.Column("kiosk_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("gym_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("franchise_id", postgresql.UUID(as_uuid=True)),
        sa.Column("config_version", sa.Integer, nullable=False),
        sa.Column("config", postgresql.JSONB, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("kiosk_id", name="pk_kiosks"),
        schema=SCHEMA,
    )
    op.create_index("ix_kiosks_gym_id", "kiosks", ["gym_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("kiosks", schema=SCHEMA)
