"""When a gym was last announced as gym.upserted; null for gyms never announced.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("gyms", sa.Column("announced_at", sa.DateTime(timezone=True)), schema="registry")


def downgrade() -> None:
    op.drop_column("gyms", "announced_at", schema="registry")
