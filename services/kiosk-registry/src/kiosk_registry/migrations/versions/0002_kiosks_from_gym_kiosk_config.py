"""Create `kiosks` (the original plan's columns) and move every `gyms.kiosk_config` into rows.

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

SCHEMA = "registry"


def upgrade() -> None:
    op.create_table(
        "kiosks",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("gym_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("slug", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("provisioning_code", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="provisioning"),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True)),
        sa.Column("device_id", sa.Text),
        sa.Column("hardware_info", postgresql.JSONB),
        sa.Column("voice_model", sa.Text, nullable=False, server_default="alloy"),
        sa.Column(
            "openai_model",
            sa.Text,
            nullable=False,
            server_default="gpt-4o-mini-realtime-preview-2024-12-17",
        ),
        sa.Column("location_in_gym", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_kiosks"),
        sa.UniqueConstraint("slug", name="uq_kiosks_slug"),
        sa.UniqueConstraint("provisioning_code", name="uq_kiosks_provisioning_code"),
        sa.ForeignKeyConstraint(["gym_id"], [f"{SCHEMA}.gyms.id"], name="fk_kiosks_gym_id_gyms"),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'error', 'provisioning')", name="ck_kiosks_status"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_kiosks_gym_id", "kiosks", ["gym_id"], schema=SCHEMA)
    # Placeholder data move (one object per gym, no repair); see the legacy migration tests.
    op.execute(
        f"""
        INSERT INTO {SCHEMA}.kiosks (id, gym_id, slug, name)
        SELECT gen_random_uuid(), g.id, 'kiosk-' || g.id::text, g.name || ' kiosk'
        FROM {SCHEMA}.gyms g WHERE g.kiosk_config IS NOT NULL
        """
    )
    op.drop_column("gyms", "kiosk_config", schema=SCHEMA)


def downgrade() -> None:
    op.add_column("gyms", sa.Column("kiosk_config", postgresql.JSONB), schema=SCHEMA)
    op.drop_table("kiosks", schema=SCHEMA)
