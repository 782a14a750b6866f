"""Live sessions: a state column (open while the conversation runs, then closed).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("state", sa.String(16), nullable=False, server_default="closed"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("sessions", "state", schema=SCHEMA)
