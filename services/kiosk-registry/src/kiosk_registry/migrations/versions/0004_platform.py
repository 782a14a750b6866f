"""The platform's registry: accounts, fleet management, members, audit, read models, messaging.

Builds on the migrated legacy tables: gyms gain their time zone, language and assistant info;
users gain a password and a role-scope check (NOT VALID, so legacy rows that cannot satisfy it
stay readable while every new or changed row must); kiosks gain hashed provisioning codes,
credentials, configuration with a version, and status bookkeeping.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from jarvis_common.db.messaging_migration import create_messaging_tables, drop_messaging_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "registry"
UUID = postgresql.UUID(as_uuid=True)


def _now() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _updated() -> sa.Column:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    create_messaging_tables(SCHEMA)

    op.add_column("franchises", _updated(), schema=SCHEMA)

    op.add_column(
        "gyms",
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Paris"),
        schema=SCHEMA,
    )
    op.add_column(
        "gyms",
        sa.Column("language", sa.String(8), nullable=False, server_default="fr"),
        schema=SCHEMA,
    )
    op.add_column(
        "gyms",
        sa.Column("info", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema=SCHEMA,
    )
    op.add_column("gyms", _updated(), schema=SCHEMA)
    op.create_index("ix_gyms_franchise_id", "gyms", ["franchise_id"], schema=SCHEMA)

    op.add_column("users", sa.Column("password_hash", sa.Text), schema=SCHEMA)
    op.add_column(
        "users",
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        schema=SCHEMA,
    )
    op.add_column("users", _updated(), schema=SCHEMA)
    op.create_foreign_key(
        "fk_users_franchise_id_franchises",
        "users",
        "franchises",
        ["franchise_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )
    op.create_foreign_key(
        "fk_users_gym_id_gyms",
        "users",
        "gyms",
        ["gym_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )
    op.execute(
        f"ALTER TABLE {SCHEMA}.users ADD CONSTRAINT ck_users_role CHECK "
        "(role IN ('super_admin', 'franchise_owner', 'gym_manager')) NOT VALID"
    )
    op.execute(
        f"ALTER TABLE {SCHEMA}.users ADD CONSTRAINT ck_users_role_scope CHECK ("
        "(role = 'super_admin' AND franchise_id IS NULL AND gym_id IS NULL)"
        " OR (role = 'franchise_owner' AND franchise_id IS NOT NULL AND gym_id IS NULL)"
        " OR (role = 'gym_manager' AND gym_id IS NOT NULL)) NOT VALID"
    )

    # Provisioning codes are stored hashed from now on; a legacy code stays claimable for 24 h.
    op.add_column("kiosks", sa.Column("provisioning_code_hash", sa.Text), schema=SCHEMA)
    op.add_column(
        "kiosks",
        sa.Column("provisioning_code_expires_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.add_column("kiosks", sa.Column("provisioned_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.execute(
        f"""
        UPDATE {SCHEMA}.kiosks SET
            provisioning_code_hash = encode(sha256(convert_to(provisioning_code, 'UTF8')), 'hex'),
            provisioning_code_expires_at = CASE WHEN device_id IS NULL
                                                THEN now() + interval '24 hours' END,
            provisioned_at = CASE WHEN device_id IS NOT NULL THEN created_at END
        WHERE provisioning_code IS NOT NULL OR device_id IS NOT NULL
        """
    )
    op.drop_constraint("uq_kiosks_provisioning_code", "kiosks", schema=SCHEMA)
    op.drop_column("kiosks", "provisioning_code", schema=SCHEMA)
    op.create_unique_constraint(
        "uq_kiosks_provisioning_code_hash", "kiosks", ["provisioning_code_hash"], schema=SCHEMA
    )
    op.execute(f"UPDATE {SCHEMA}.kiosks SET hardware_info = '{{}}' WHERE hardware_info IS NULL")
    op.alter_column(
        "kiosks",
        "hardware_info",
        nullable=False,
        server_default=sa.text("'{}'::jsonb"),
        schema=SCHEMA,
    )
    for column in (
        sa.Column("offline_alerted_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("persona", sa.Text),
        sa.Column(
            "limits", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.Column("config_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        _updated(),
    ):
        op.add_column("kiosks", column, schema=SCHEMA)

    op.create_table(
        "kiosk_credentials",
        sa.Column("id", UUID, nullable=False),
        sa.Column("kiosk_id", UUID, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_kiosk_credentials"),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], [f"{SCHEMA}.kiosks.id"], name="fk_kiosk_credentials_kiosk_id_kiosks"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_kiosk_credentials_kiosk_id", "kiosk_credentials", ["kiosk_id"], schema=SCHEMA
    )

    op.create_table(
        "members",
        sa.Column("id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("external_ref", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("language", sa.String(8), nullable=False, server_default="fr"),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("contract_type", sa.Text),
        sa.Column("joined_at", sa.Date),
        sa.Column("contract_ends_at", sa.Date),
        sa.Column("cancelled_at", sa.Date),
        _now(),
        _updated(),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
        sa.UniqueConstraint("gym_id", "external_ref", name="uq_members_gym_id_external_ref"),
        sa.ForeignKeyConstraint(["gym_id"], [f"{SCHEMA}.gyms.id"], name="fk_members_gym_id_gyms"),
        sa.CheckConstraint("status IN ('active', 'frozen', 'cancelled')", name="ck_members_status"),
        schema=SCHEMA,
    )
    op.create_table(
        "check_ins",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("group_class", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_check_ins"),
        sa.UniqueConstraint(
            "member_id", "checked_in_at", name="uq_check_ins_member_id_checked_in_at"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], [f"{SCHEMA}.members.id"], name="fk_check_ins_member_id_members"
        ),
        sa.ForeignKeyConstraint(["gym_id"], [f"{SCHEMA}.gyms.id"], name="fk_check_ins_gym_id_gyms"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_check_ins_gym_id_checked_in_at", "check_ins", ["gym_id", "checked_in_at"], schema=SCHEMA
    )

    op.create_table(
        "alerts",
        sa.Column("id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("kiosk_id", UUID),
        sa.Column("member_id", UUID),
        sa.Column("status", sa.Text, nullable=False, server_default="open"),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column(
            "details", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(["gym_id"], [f"{SCHEMA}.gyms.id"], name="fk_alerts_gym_id_gyms"),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], [f"{SCHEMA}.kiosks.id"], name="fk_alerts_kiosk_id_kiosks"
        ),
        sa.CheckConstraint("status IN ('open', 'resolved')", name="ck_alerts_status"),
        schema=SCHEMA,
    )
    op.create_index("ix_alerts_gym_id", "alerts", ["gym_id"], schema=SCHEMA)
    op.create_index(
        "uq_alerts_open_kiosk_offline",
        "alerts",
        ["kiosk_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("kind = 'kiosk_offline' AND status = 'open'"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor_type", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text),
        sa.Column("franchise_id", UUID),
        sa.Column("gym_id", UUID),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("entity_type", sa.Text, nullable=False),
        sa.Column("entity_id", sa.Text, nullable=False),
        sa.Column("before", postgresql.JSONB),
        sa.Column("after", postgresql.JSONB),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        schema=SCHEMA,
    )
    op.create_index("ix_audit_log_gym_id_at", "audit_log", ["gym_id", "at"], schema=SCHEMA)
    op.create_index(
        "ix_audit_log_franchise_id_at", "audit_log", ["franchise_id", "at"], schema=SCHEMA
    )

    op.create_table(
        "conversations",
        sa.Column("session_id", UUID, nullable=False),
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("kiosk_id", UUID, nullable=False),
        sa.Column("member_id", UUID),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("end_reason", sa.String(40)),
        sa.Column("summary", sa.Text),
        sa.Column("sentiment", sa.String(16)),
        sa.Column("topics", postgresql.JSONB),
        sa.Column("follow_ups", postgresql.JSONB),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("session_id", name="pk_conversations"),
        schema=SCHEMA,
    )
    op.create_index("ix_conversations_gym_id", "conversations", ["gym_id"], schema=SCHEMA)
    op.create_table(
        "usage_daily",
        sa.Column("gym_id", UUID, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("sessions", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duration_s", sa.Numeric(14, 3), nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Numeric(14, 6), nullable=False, server_default="0"),
        sa.Column(
            "tokens", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.PrimaryKeyConstraint("gym_id", "day", name="pk_usage_daily"),
        schema=SCHEMA,
    )
    op.create_table(
        "reports",
        sa.Column("id", UUID, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("gym_id", UUID),
        sa.Column("franchise_id", UUID),
        sa.Column("iso_week", sa.String(8), nullable=False),
        sa.Column("week_start", sa.Date, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "headline", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
        schema=SCHEMA,
    )
    op.create_index("ix_reports_gym_id", "reports", ["gym_id"], schema=SCHEMA)
    op.create_index("ix_reports_franchise_id", "reports", ["franchise_id"], schema=SCHEMA)


def downgrade() -> None:
    for table in (
        "reports",
        "usage_daily",
        "conversations",
        "audit_log",
        "alerts",
        "check_ins",
        "members",
        "kiosk_credentials",
    ):
        op.drop_table(table, schema=SCHEMA)
    for column in (
        "updated_at",
        "revoked_at",
        "config_version",
        "limits",
        "persona",
        "last_error",
        "offline_alerted_at",
    ):
        op.drop_column("kiosks", column, schema=SCHEMA)
    op.alter_column("kiosks", "hardware_info", nullable=True, server_default=None, schema=SCHEMA)
    # Codes were only ever stored hashed from here on: a downgrade cannot restore them.
    op.drop_constraint("uq_kiosks_provisioning_code_hash", "kiosks", schema=SCHEMA)
    op.add_column("kiosks", sa.Column("provisioning_code", sa.Text), schema=SCHEMA)
    op.create_unique_constraint(
        "uq_kiosks_provisioning_code", "kiosks", ["provisioning_code"], schema=SCHEMA
    )
    for column in ("provisioned_at", "provisioning_code_expires_at", "provisioning_code_hash"):
        op.drop_column("kiosks", column, schema=SCHEMA)
    op.drop_constraint("ck_users_role_scope", "users", schema=SCHEMA)
    op.drop_constraint("ck_users_role", "users", schema=SCHEMA)
    op.drop_constraint("fk_users_gym_id_gyms", "users", schema=SCHEMA)
    op.drop_constraint("fk_users_franchise_id_franchises", "users", schema=SCHEMA)
    for column in ("updated_at", "active", "password_hash"):
        op.drop_column("users", column, schema=SCHEMA)
    op.drop_index("ix_gyms_franchise_id", "gyms", schema=SCHEMA)
    for column in ("updated_at", "info", "language", "timezone"):
        op.drop_column("gyms", column, schema=SCHEMA)
    op.drop_column("franchises", "updated_at", schema=SCHEMA)
    drop_messaging_tables(SCHEMA)
