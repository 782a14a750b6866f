"""The messaging tables: outbox and processed events.

Revision ID: 0001
Revises:
"""

from jarvis_common.db.messaging_migration import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "scheduler"


def upgrade() -> None:
    create_messaging_tables(SCHEMA)


def downgrade() -> None:
    drop_messaging_tables(SCHEMA)
