"""The whole analysis beside each summary: sentiment, topics, tags, goals, follow-ups, churn
signals, satisfaction, provider, tokens and cost.

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

SCHEMA = "summarizer"
TABLE = "conversation_summaries"
EMPTY = sa.text("'{}'")

COLUMNS = [
    sa.Column("summary_language", sa.String(8), nullable=False, server_default="fr"),
    sa.Column("sentiment_label", sa.String(8), nullable=False, server_default="neutral"),
    sa.Column("sentiment_score", sa.Float, nullable=False, server_default=sa.text("0")),
    sa.Column("topics", postgresql.ARRAY(sa.String(32)), nullable=False, server_default=EMPTY),
    sa.Column("tags", postgresql.ARRAY(sa.Text), nullable=False, server_default=EMPTY),
    sa.Column("goals", postgresql.ARRAY(sa.Text), nullable=False, server_default=EMPTY),
    sa.Column("follow_ups", postgresql.ARRAY(sa.Text), nullable=False, server_default=EMPTY),
    sa.Column(
        "churn_signals",
        postgresql.JSONB,
        nullable=False,
        server_default=sa.text("'[]'::jsonb"),
    ),
    sa.Column("member_satisfied", sa.Boolean),
    sa.Column("provider", sa.String(16), nullable=False, server_default="offline"),
    sa.Column("input_tokens", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("cached_input_tokens", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("output_tokens", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("cost_usd", sa.Numeric(12, 6), nullable=False, server_default=sa.text("0")),
    sa.Column("session_ended_at", sa.DateTime(timezone=True)),
]


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column(TABLE, column, schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_conversation_summaries_sentiment_label"),
        TABLE,
        "sentiment_label IN ('positive', 'neutral', 'negative')",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_conversation_summaries_sentiment_score"),
        TABLE,
        "sentiment_score BETWEEN -1 AND 1",
        schema=SCHEMA,
    )


def downgrade() -> None:
    for name in ("sentiment_score", "sentiment_label"):
        op.drop_constraint(op.f(f"ck_conversation_summaries_{name}"), TABLE, schema=SCHEMA)
    for column in reversed(COLUMNS):
        op.drop_column(TABLE, column.name, schema=SCHEMA)
