"""The legacy schema the platform started from (the original Supabase database).

Each gym carried its one kiosk in `gyms.kiosk_config` (JSONB), and users carried
`franchise_access` / `gym_access` beside `franchise_id` / `gym_id`. The next revisions move
that data into the platform's shape; this one only recreates the starting point, so the whole
history can be replayed on a copy of the legacy database.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "registry"


def upgrade() -> None:
    op.create_table(
        "franchises",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_franchises"),
        schema=SCHEMA,
    )
    op.create_table(
        "gyms",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("franchise_id", postgresql.UUID(as_uuid=True)),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kiosk_config", postgresql.JSONB),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_gyms"),
        sa.ForeignKeyConstraint(
            ["franchise_id"], [f"{SCHEMA}.franchises.id"], name="fk_gyms_franchise_id_franchises"
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "users",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("full_name", sa.Text),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("franchise_id", postgresql.UUID(as_uuid=True)),
        sa.Column("gym_id", postgresql.UUID(as_uuid=True)),
        sa.Column("franchise_access", postgresql.JSONB),
        sa.Column("gym_access", postgresql.JSONB),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("users", schema=SCHEMA)
    op.drop_table("gyms", schema=SCHEMA)
    op.drop_table("franchises", schema=SCHEMA)
