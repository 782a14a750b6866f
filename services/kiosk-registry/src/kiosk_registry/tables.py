"""The registry schema: every table kiosk-registry owns.

Tenancy: a gym belongs to at most one franchise; everything else hangs off a gym (kiosks,
members, check-ins, alerts, read models) or is a tenant itself. Queries are scoped by
`kiosk_registry.tenancy`.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from jarvis_common.db import service_metadata
from jarvis_common.messaging.tables import MessagingTables

SCHEMA = "registry"
metadata = service_metadata(SCHEMA)
messaging = MessagingTables(metadata)

ROLES = ("super_admin", "franchise_owner", "gym_manager")
KIOSK_STATUSES = ("provisioning", "online", "offline", "error")


def _timestamps() -> list[Column]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


franchises = Table(
    "franchises",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    *_timestamps(),
)

gyms = Table(
    "gyms",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("franchise_id", UUID(as_uuid=True), ForeignKey("franchises.id"), index=True),
    Column("name", Text, nullable=False),
    Column("timezone", String(64), nullable=False, server_default="Europe/Paris"),
    Column("language", String(8), nullable=False, server_default="fr"),
    # What the kiosk assistant may tell members: opening hours, classes, prices, contacts.
    Column("info", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    *_timestamps(),
    # when gym.upserted last announced it (null: never, e.g. a gym from the legacy database)
    Column("announced_at", DateTime(timezone=True)),
)

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("full_name", Text),
    Column("role", Text, nullable=False),
    Column("franchise_id", UUID(as_uuid=True), ForeignKey("franchises.id")),
    Column("gym_id", UUID(as_uuid=True), ForeignKey("gyms.id")),
    # Null for accounts migrated from the legacy database until a password is set.
    Column("password_hash", Text),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    *_timestamps(),
    CheckConstraint(f"role IN {ROLES}", name="role"),
    CheckConstraint(
        "(role = 'super_admin' AND franchise_id IS NULL AND gym_id IS NULL)"
        " OR (role = 'franchise_owner' AND franchise_id IS NOT NULL AND gym_id IS NULL)"
        " OR (role = 'gym_manager' AND gym_id IS NOT NULL)",
        name="role_scope",
    ),
)

kiosks = Table(
    "kiosks",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), ForeignKey("gyms.id"), nullable=False, index=True),
    Column("slug", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    # The outstanding provisioning code, hashed (sha256 hex); single-use, with an expiry.
    Column("provisioning_code_hash", Text, unique=True),
    Column("provisioning_code_expires_at", DateTime(timezone=True)),
    Column("provisioned_at", DateTime(timezone=True)),
    Column("status", Text, nullable=False, server_default="provisioning"),
    Column("last_heartbeat", DateTime(timezone=True)),
    Column("offline_alerted_at", DateTime(timezone=True)),
    Column("device_id", Text),
    Column("hardware_info", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("last_error", Text),
    Column("voice_model", Text, nullable=False, server_default="alloy"),
    Column(
        "openai_model",
        Text,
        nullable=False,
        server_default="gpt-4o-mini-realtime-preview-2024-12-17",
    ),
    Column("location_in_gym", Text),
    Column("persona", Text),
    # idle_timeout_s, max_duration_s, max_concurrent_sessions, session_budget_usd
    Column("limits", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("config_version", Integer, nullable=False, server_default="1"),
    Column("revoked_at", DateTime(timezone=True)),
    *_timestamps(),
    CheckConstraint(f"status IN {KIOSK_STATUSES}", name="status"),
    # Room on each page for heartbeat updates to stay in place (see migration 0005).
    postgresql_with={"fillfactor": 70},
)

kiosk_credentials = Table(
    "kiosk_credentials",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kiosk_id", UUID(as_uuid=True), ForeignKey("kiosks.id"), nullable=False, index=True),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set when the credential is rotated out: it keeps working until then (grace period).
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

members = Table(
    "members",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), ForeignKey("gyms.id"), nullable=False),
    # The gym's own member number; imports upsert by it.
    Column("external_ref", Text, nullable=False),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("language", String(8), nullable=False, server_default="fr"),
    Column("status", Text, nullable=False, server_default="active"),
    Column("contract_type", Text),
    Column("joined_at", Date),
    Column("contract_ends_at", Date),
    Column("cancelled_at", Date),
    *_timestamps(),
    UniqueConstraint("gym_id", "external_ref"),
    CheckConstraint("status IN ('active', 'frozen', 'cancelled')", name="status"),
)

check_ins = Table(
    "check_ins",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("member_id", UUID(as_uuid=True), ForeignKey("members.id"), nullable=False),
    Column("gym_id", UUID(as_uuid=True), ForeignKey("gyms.id"), nullable=False),
    Column("checked_in_at", DateTime(timezone=True), nullable=False),
    Column("group_class", Text),
    # The same check-in imported twice is stored once.
    UniqueConstraint("member_id", "checked_in_at"),
    Index("ix_check_ins_gym_id_checked_in_at", "gym_id", "checked_in_at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), ForeignKey("gyms.id"), nullable=False, index=True),
    Column("kind", Text, nullable=False),  # kiosk_offline, churn_risk, ticket
    Column("kiosk_id", UUID(as_uuid=True), ForeignKey("kiosks.id")),
    Column("member_id", UUID(as_uuid=True)),
    Column("status", Text, nullable=False, server_default="open"),
    Column("title", Text, nullable=False),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("resolved_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('open', 'resolved')", name="status"),
    # At most one open offline alert per kiosk.
    Index(
        "uq_alerts_open_kiosk_offline",
        "kiosk_id",
        unique=True,
        postgresql_where=text("kind = 'kiosk_offline' AND status = 'open'"),
    ),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor_type", Text, nullable=False),  # user, kiosk, system
    Column("actor_id", Text),
    Column("franchise_id", UUID(as_uuid=True)),
    Column("gym_id", UUID(as_uuid=True)),
    Column("action", Text, nullable=False),
    Column("entity_type", Text, nullable=False),
    Column("entity_id", Text, nullable=False),
    Column("before", JSONB),
    Column("after", JSONB),
    Index("ix_audit_log_gym_id_at", "gym_id", "at"),
    Index("ix_audit_log_franchise_id_at", "franchise_id", "at"),
)

# --- read models fed by other services' events ------------------------------------------------

# Either session.closed or summary.created may arrive first; each fills in its own columns.
conversations = Table(
    "conversations",
    metadata,
    Column("session_id", UUID(as_uuid=True), primary_key=True),
    Column("gym_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("kiosk_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", String(40)),
    Column("summary", Text),
    Column("sentiment", String(16)),
    Column("topics", JSONB),
    Column("follow_ups", JSONB),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

usage_daily = Table(
    "usage_daily",
    metadata,
    Column("gym_id", UUID(as_uuid=True), primary_key=True),
    Column("day", Date, primary_key=True),  # in the gym's time zone
    Column("sessions", Integer, nullable=False, server_default="0"),
    Column("duration_s", Numeric(14, 3), nullable=False, server_default="0"),
    Column("cost_usd", Numeric(14, 6), nullable=False, server_default="0"),
    Column("tokens", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)

reports = Table(
    "reports",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("gym_id", UUID(as_uuid=True), index=True),
    Column("franchise_id", UUID(as_uuid=True), index=True),
    Column("iso_week", String(8), nullable=False),
    Column("week_start", Date, nullable=False),
    Column("language", String(8), nullable=False),
    Column("generated_at", DateTime(timezone=True), nullable=False),
    Column("headline", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)

# --- legacy migration report ---

# What revisions 0002 and 0003 repaired, or could not carry over, when they moved the legacy
# `gyms.kiosk_config` and `users.franchise_access` / `gym_access` into the platform's shape.
# Written by those migrations only; read by operators (docs/legacy-migration.md).
legacy_migration_issues = Table(
    "legacy_migration_issues",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("revision", Text, nullable=False),  # 0002, 0003
    Column("entity", Text, nullable=False),  # gym, user
    Column("entity_id", UUID(as_uuid=True), nullable=False),
    # The kiosk created from the legacy entry, if one was; no foreign key, the report outlives it.
    Column("kiosk_id", UUID(as_uuid=True)),
    Column("entry_index", Integer),  # position in a legacy kiosk list (null: a single object)
    Column("field", Text),  # the legacy key or column concerned
    Column("problem", Text, nullable=False),
    Column("detail", Text, nullable=False),  # what the migration did about it
    Column("raw", JSONB),  # the legacy value as it was
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("entity IN ('gym', 'user')", name="entity"),
)
