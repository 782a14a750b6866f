"""Carry `users.franchise_access` / `gym_access` into `franchise_id` / `gym_id`, then drop them.

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

SCHEMA = "registry"


def upgrade() -> None:
    op.drop_column("users", "franchise_access", schema=SCHEMA)
    op.drop_column("users", "gym_access", schema=SCHEMA)


def downgrade() -> None:
    op.add_column("users", sa.Column("franchise_access", postgresql.JSONB), schema=SCHEMA)
    op.add_column("users", sa.Column("gym_access", postgresql.JSONB), schema=SCHEMA)
