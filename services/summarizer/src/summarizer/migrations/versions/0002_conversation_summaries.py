"""One conversation summary per session.

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

SCHEMA = "summarizer"


def upgrade() -> None:
    op.create_table(
        "conversation_summaries",
        sa.Column("session_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kiosk_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("gym_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("franchise_id", postgresql.UUID(as_uuid=True)),
        sa.Column("member_id", postgresql.UUID(as_uuid=True)),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("session_id", name="pk_conversation_summaries"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_conversation_summaries_gym_id", "conversation_summaries", ["gym_id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("conversation_summaries", schema=SCHEMA)
