"""alerts.scored_as_of (the moment of the score an alert was raised from, so a check-in after it
resolves the alert) and snoozes.snoozed_at (when the snooze was asked for, so an older request
retried late cannot overwrite a newer one).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "churn"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("alerts", sa.Column("scored_as_of", TS), schema=SCHEMA)
    # Alerts raised before: their score's moment was not kept; the raise is the best bound.
    op.execute(f"UPDATE {SCHEMA}.alerts SET scored_as_of = raised_at")
    op.alter_column("alerts", "scored_as_of", nullable=False, schema=SCHEMA)
    op.add_column("snoozes", sa.Column("snoozed_at", TS), schema=SCHEMA)
    op.execute(f"UPDATE {SCHEMA}.snoozes SET snoozed_at = created_at")
    op.alter_column("snoozes", "snoozed_at", nullable=False, schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("snoozes", "snoozed_at", schema=SCHEMA)
    op.drop_column("alerts", "scored_as_of", schema=SCHEMA)
