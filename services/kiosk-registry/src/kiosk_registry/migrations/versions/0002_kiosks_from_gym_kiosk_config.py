"""Create `kiosks` (the original plan's columns) and move every `gyms.kiosk_config` into rows.

The legacy configs are messy: one object or a list of them, JSON text inside a JSON string,
scalars, missing or clashing slugs, duplicate provisioning codes, values of the wrong type. The
move keeps every kiosk it can, repairs what it must, and writes one row per repair or loss to
`legacy_migration_issues` (also summarised in the alembic log); docs/legacy-migration.md lists
every rule. It is set-based SQL in the migration's transaction: every cast is guarded
(`pg_input_is_valid`, `jsonb_typeof`), so no legacy value can raise, and the uniqueness of ids,
slugs and codes is established before the single INSERT. Needs PostgreSQL 16+.

The downgrade rebuilds `kiosk_config` from the kiosks (an object for one, a list for several)
and puts back, from the report, the entries and unknown keys that were not migrated.

Revision ID: 0002
Revises: 0001
"""

import logging

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "registry"
REPORT = f"{SCHEMA}.legacy_migration_issues"
log = logging.getLogger("alembic.runtime.migration")

DEFAULT_VOICE = "alloy"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini-realtime-preview-2024-12-17"

# The legacy app wrote these spellings over the years; the first one present wins. Keys not
# listed are reported as unknown (and put back by the downgrade).
LEGACY_KEYS = {
    "id": ("id", "kiosk_id", "kioskId"),
    "slug": ("slug",),
    "name": ("name",),
    "provisioning_code": ("provisioning_code", "provisioningCode", "code"),
    "status": ("status",),
    "last_heartbeat": ("last_heartbeat", "lastHeartbeat"),
    "device_id": ("device_id", "deviceId"),
    "hardware_info": ("hardware_info", "hardwareInfo"),
    "voice_model": ("voice_model", "voiceModel", "voice"),
    "openai_model": ("openai_model", "openaiModel", "model"),
    "location_in_gym": ("location_in_gym", "locationInGym", "location"),
    "created_at": ("created_at", "createdAt"),
}


def upgrade() -> None:
    _create_kiosks()
    _create_report()
    for statement in (
        *HELPERS,
        *SPLIT_CONFIGS,
        *PARSE_ENTRIES,
        *ASSIGN_IDS,
        *REPORT_FIELDS,
        *ASSIGN_SLUGS,
        *DEDUPLICATE_CODES,
        INSERT_KIOSKS,
    ):
        op.execute(statement)
    _log_summary()
    for statement in CLEAN_UP:
        op.execute(statement)
    op.drop_column("gyms", "kiosk_config", schema=SCHEMA)


def downgrade() -> None:
    op.add_column("gyms", sa.Column("kiosk_config", postgresql.JSONB), schema=SCHEMA)
    op.execute(RESTORE_CONFIGS)
    op.execute(RESTORE_EMPTY_CONFIGS)
    op.drop_table("legacy_migration_issues", schema=SCHEMA)
    op.drop_table("kiosks", schema=SCHEMA)


def _create_kiosks() -> None:
    op.create_table(
        "kiosks",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("gym_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("slug", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("provisioning_code", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="provisioning"),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True)),
        sa.Column("device_id", sa.Text),
        sa.Column("hardware_info", postgresql.JSONB),
        sa.Column("voice_model", sa.Text, nullable=False, server_default=DEFAULT_VOICE),
        sa.Column("openai_model", sa.Text, nullable=False, server_default=DEFAULT_OPENAI_MODEL),
        sa.Column("location_in_gym", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_kiosks"),
        sa.UniqueConstraint("slug", name="uq_kiosks_slug"),
        sa.UniqueConstraint("provisioning_code", name="uq_kiosks_provisioning_code"),
        sa.ForeignKeyConstraint(["gym_id"], [f"{SCHEMA}.gyms.id"], name="fk_kiosks_gym_id_gyms"),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'error', 'provisioning')", name="ck_kiosks_status"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_kiosks_gym_id", "kiosks", ["gym_id"], schema=SCHEMA)


def _create_report() -> None:
    op.create_table(
        "legacy_migration_issues",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("revision", sa.Text, nullable=False),
        sa.Column("entity", sa.Text, nullable=False),
        sa.Column("entity_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kiosk_id", postgresql.UUID(as_uuid=True)),
        sa.Column("entry_index", sa.Integer),
        sa.Column("field", sa.Text),
        sa.Column("problem", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("raw", postgresql.JSONB),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_legacy_migration_issues"),
        sa.CheckConstraint("entity IN ('gym', 'user')", name="ck_legacy_migration_issues_entity"),
        schema=SCHEMA,
    )


# --- helpers: small SQL functions that never raise, whatever JSON they are given -------------

HELPERS = (
    # A usable text value: a JSON string or number, trimmed, not blank.
    r"""
    CREATE OR REPLACE FUNCTION pg_temp.lm_text(v jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN jsonb_typeof(v) IN ('string', 'number')
                    THEN NULLIF(btrim(v #>> '{}', E' \t\r\n'), '') END
    $$
    """,
    # The platform's slug shape (kiosks.SLUG): lowercase letters, digits and single dashes, at
    # most 64 characters. French gym names lose their accents rather than their letters; the
    # accents go before lower(), which leaves non-ASCII letters alone under the C locale.
    r"""
    CREATE OR REPLACE FUNCTION pg_temp.lm_slugify(t text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
        SELECT NULLIF(btrim(left(btrim(regexp_replace(
            lower(translate(
                replace(replace(replace(replace(replace(t, 'œ', 'oe'), 'Œ', 'OE'),
                                        'æ', 'ae'), 'Æ', 'AE'), 'ß', 'ss'),
                'àáâãäåçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝ',
                'aaaaaaceeeeiiiinoooooouuuuyyAAAAAACEEEEIIIINOOOOOOUUUUY')),
            '[^a-z0-9]+', '-', 'g'), '-'), 64), '-'), '')
    $$
    """,
    # A timestamp the legacy app could have written: ISO-8601 text, or Unix epoch seconds or
    # milliseconds (2000..2100). Words PostgreSQL accepts ('now', 'epoch', 'infinity') and times
    # more than a day ahead (they would pin `last_heartbeat` in the future) are not timestamps.
    r"""
    CREATE OR REPLACE FUNCTION pg_temp.lm_timestamp(v jsonb) RETURNS timestamptz
    LANGUAGE sql STABLE AS $$
        SELECT CASE WHEN t <= now() + interval '1 day' THEN t END
        FROM (SELECT CASE
            WHEN jsonb_typeof(v) = 'string'
                 AND (v #>> '{}') ~ '^\s*\d{4}-\d{2}-\d{2}'
                 AND pg_input_is_valid(v #>> '{}', 'timestamptz')
                THEN (v #>> '{}')::timestamptz
            WHEN jsonb_typeof(v) = 'number' THEN CASE
                WHEN v::numeric BETWEEN 946684800 AND 4102444800
                    THEN to_timestamp(v::numeric::float8)
                WHEN v::numeric BETWEEN 946684800000 AND 4102444800000
                    THEN to_timestamp(v::numeric::float8 / 1000)
                END
            END AS t) parsed
    $$
    """,
    # One report row; `detail` says what was done about it.
    rf"""
    CREATE OR REPLACE FUNCTION pg_temp.lm_report(
        gym uuid, kiosk uuid, entry int, field text, problem text, detail text, raw jsonb
    ) RETURNS void LANGUAGE sql AS $$
        INSERT INTO {REPORT} (revision, entity, entity_id, kiosk_id, entry_index, field,
                              problem, detail, raw)
        VALUES ('0002', 'gym', gym, kiosk, entry, field, problem, detail, raw)
    $$
    """,
)

# --- configs → entries -------------------------------------------------------------------------

SPLIT_CONFIGS = (
    # One row per gym that has a config (SQL NULL and JSON null mean "no kiosk": nothing to say).
    # A JSON string holding JSON text (the legacy app sometimes stored JSON.stringify output) is
    # decoded once.
    f"""
    CREATE TEMP TABLE lm_configs AS
    SELECT g.id AS gym_id, g.name AS gym_name, g.created_at AS gym_created_at,
           row_number() OVER (ORDER BY g.created_at, g.id) AS gym_order,
           g.kiosk_config AS raw,
           COALESCE(jsonb_typeof(d.decoded) IN ('object', 'array'), false) AS double_encoded,
           CASE WHEN jsonb_typeof(d.decoded) IN ('object', 'array')
                THEN d.decoded ELSE g.kiosk_config END AS config
    FROM {SCHEMA}.gyms g
    CROSS JOIN LATERAL (
        SELECT CASE WHEN jsonb_typeof(g.kiosk_config) = 'string'
                         AND pg_input_is_valid(g.kiosk_config #>> '{{}}', 'jsonb')
                    THEN (g.kiosk_config #>> '{{}}')::jsonb END AS decoded
    ) d
    WHERE g.kiosk_config IS NOT NULL AND g.kiosk_config <> 'null'::jsonb
    """,
    """
    SELECT pg_temp.lm_report(gym_id, NULL, NULL, 'kiosk_config', 'double_encoded',
                             'JSON text inside a JSON string; decoded and migrated', raw)
    FROM lm_configs WHERE double_encoded
    """,
    """
    SELECT pg_temp.lm_report(gym_id, NULL, NULL, 'kiosk_config', 'empty',
                             'empty ' || jsonb_typeof(config) || ': no kiosk to migrate', raw)
    FROM lm_configs WHERE config IN ('{}'::jsonb, '[]'::jsonb)
    """,
    # An entry is what should be one kiosk: the config itself when it is not a list (entry_index
    # NULL), or each element of a list. Reconciliation: entries = kiosks + not_a_kiosk reports.
    """
    CREATE TEMP TABLE lm_entries AS
    SELECT c.gym_id, c.gym_name, c.gym_created_at, c.gym_order,
           NULL::int AS entry_index, 1 AS list_length, c.config AS entry
    FROM lm_configs c
    WHERE jsonb_typeof(c.config) <> 'array' AND c.config <> '{}'::jsonb
    UNION ALL
    SELECT c.gym_id, c.gym_name, c.gym_created_at, c.gym_order,
           (e.ordinality - 1)::int, jsonb_array_length(c.config), e.entry
    FROM lm_configs c
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(c.config) = 'array' THEN c.config ELSE '[]'::jsonb END
    ) WITH ORDINALITY AS e(entry, ordinality)
    """,
    # Scalars, nulls and empty objects carry no kiosk: kept whole in the report (the downgrade
    # puts them back) and left out.
    """
    SELECT pg_temp.lm_report(
        gym_id, NULL, entry_index, 'kiosk_config', 'not_a_kiosk',
        CASE WHEN entry_index IS NULL THEN 'the config' ELSE 'list entry ' || entry_index END
            || ' is ' || CASE WHEN entry = '{}'::jsonb THEN 'an empty object'
                              ELSE 'a JSON ' || jsonb_typeof(entry) END
            || ', not a kiosk object: not migrated',
        entry)
    FROM lm_entries WHERE jsonb_typeof(entry) <> 'object' OR entry = '{}'::jsonb
    """,
)


def _legacy(field: str) -> str:
    """The legacy value of a kiosk field (first spelling present; JSON null counts as absent)."""
    keys = ", ".join(f"NULLIF(e.entry -> '{key}', 'null'::jsonb)" for key in LEGACY_KEYS[field])
    return f"COALESCE({keys})"


_KNOWN_KEYS = ", ".join(f"'{key}'" for keys in LEGACY_KEYS.values() for key in keys)

# Every kiosk entry with its legacy values (raw_*) and what they parse to. `key` is the order in
# which entries win a contested id, slug or code: oldest gym first (created_at, id), then list
# position.
PARSE_ENTRIES = (
    rf"""
CREATE TEMP TABLE lm_kiosks AS
SELECT r.*,
       NULL::uuid AS id,
       CASE WHEN jsonb_typeof(r.raw_id) = 'string'
                 AND pg_input_is_valid(r.raw_id #>> '{{}}', 'uuid')
            THEN (r.raw_id #>> '{{}}')::uuid END AS given_id,
       pg_temp.lm_slugify(pg_temp.lm_text(r.raw_slug)) AS given_slug,
       NULL::text AS slug_base,
       NULL::text AS slug,
       pg_temp.lm_text(r.raw_name) AS given_name,
       pg_temp.lm_text(r.raw_code) AS provisioning_code,
       pg_temp.lm_text(r.raw_device_id) AS device_id,
       lower(pg_temp.lm_text(r.raw_status)) AS given_status,
       pg_temp.lm_timestamp(r.raw_last_heartbeat) AS last_heartbeat,
       CASE WHEN jsonb_typeof(r.raw_hardware_info) = 'object' THEN r.raw_hardware_info
            WHEN r.raw_hardware_info IS NULL THEN NULL
            WHEN jsonb_typeof(r.raw_hardware_info) = 'string'
                 AND pg_input_is_valid(r.raw_hardware_info #>> '{{}}', 'jsonb')
                 AND left(ltrim(r.raw_hardware_info #>> '{{}}'), 1) = '{{'
                THEN (r.raw_hardware_info #>> '{{}}')::jsonb
            ELSE jsonb_build_object('legacy_value', r.raw_hardware_info)
       END AS hardware_info,
       CASE WHEN jsonb_typeof(r.raw_voice_model) = 'string'
            THEN pg_temp.lm_text(r.raw_voice_model) END AS voice_model,
       CASE WHEN jsonb_typeof(r.raw_openai_model) = 'string'
            THEN pg_temp.lm_text(r.raw_openai_model) END AS openai_model,
       pg_temp.lm_text(r.raw_location_in_gym) AS location_in_gym,
       pg_temp.lm_timestamp(r.raw_created_at) AS given_created_at
FROM (
    SELECT row_number() OVER (ORDER BY e.gym_order, e.entry_index) AS key,
           e.gym_id, e.gym_name, e.gym_created_at, e.entry_index, e.list_length, e.entry,
           {_legacy("id")} AS raw_id,
           {_legacy("slug")} AS raw_slug,
           {_legacy("name")} AS raw_name,
           {_legacy("provisioning_code")} AS raw_code,
           {_legacy("status")} AS raw_status,
           {_legacy("last_heartbeat")} AS raw_last_heartbeat,
           {_legacy("device_id")} AS raw_device_id,
           {_legacy("hardware_info")} AS raw_hardware_info,
           {_legacy("voice_model")} AS raw_voice_model,
           {_legacy("openai_model")} AS raw_openai_model,
           {_legacy("location_in_gym")} AS raw_location_in_gym,
           {_legacy("created_at")} AS raw_created_at,
           (SELECT jsonb_object_agg(k.key, k.value) FROM jsonb_each(e.entry) k
            WHERE k.key NOT IN ({_KNOWN_KEYS})) AS unknown_keys
    FROM lm_entries e
    WHERE jsonb_typeof(e.entry) = 'object' AND e.entry <> '{{}}'::jsonb
) r
""",
    # Indexes now, before any UPDATE: one built later in this transaction, over rows it has
    # already updated, could not be used by it (pg_index.indcheckxmin) and the slug loop would
    # scan the table once per kiosk.
    "CREATE UNIQUE INDEX ON lm_kiosks (key)",
    "CREATE UNIQUE INDEX ON lm_kiosks (slug)",
    "ANALYZE lm_kiosks",
)

# --- ids: a valid legacy UUID is kept by the first kiosk that claims it ------------------------

ASSIGN_IDS = (
    """
    UPDATE lm_kiosks k
    SET id = CASE WHEN k.given_id IS NOT NULL AND w.rank = 1 THEN k.given_id
                  ELSE gen_random_uuid() END
    FROM (SELECT key, row_number() OVER (PARTITION BY given_id ORDER BY key) AS rank
          FROM lm_kiosks) w
    WHERE w.key = k.key
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'id', 'invalid',
                             'not a UUID; the kiosk got a new id', raw_id)
    FROM lm_kiosks WHERE raw_id IS NOT NULL AND given_id IS NULL
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'id', 'duplicate',
                             'already the id of an earlier kiosk; this one got a new id', raw_id)
    FROM lm_kiosks WHERE given_id IS NOT NULL AND id <> given_id
    """,
)

# --- every other field: keep, derive or default, and say so when a legacy value is replaced ----

REPORT_FIELDS = (
    # Missing names are not an error in one-kiosk-per-gym data, but people see the made-up name.
    """
    SELECT pg_temp.lm_report(
        gym_id, id, entry_index, 'name',
        CASE WHEN raw_name IS NULL THEN 'missing' ELSE 'invalid' END,
        'named after the gym', raw_name)
    FROM lm_kiosks WHERE given_name IS NULL
    """,
    """
    SELECT pg_temp.lm_report(
        gym_id, id, entry_index, 'status', 'invalid',
        'not one of online, offline, error, provisioning; derived from device_id', raw_status)
    FROM lm_kiosks
    WHERE raw_status IS NOT NULL
      AND NOT COALESCE(given_status IN ('online', 'offline', 'error', 'provisioning'), false)
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'last_heartbeat', 'invalid',
                             'not a timestamp (or in the future); left empty', raw_last_heartbeat)
    FROM lm_kiosks WHERE raw_last_heartbeat IS NOT NULL AND last_heartbeat IS NULL
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'created_at', 'invalid',
                             'not a timestamp; the gym''s created_at is used', raw_created_at)
    FROM lm_kiosks WHERE raw_created_at IS NOT NULL AND given_created_at IS NULL
    """,
    """
    SELECT pg_temp.lm_report(
        gym_id, id, entry_index, 'hardware_info', 'invalid',
        CASE WHEN hardware_info = jsonb_build_object('legacy_value', raw_hardware_info)
             THEN 'not an object; wrapped as {"legacy_value": ...}'
             ELSE 'an object encoded as a JSON string; decoded' END,
        raw_hardware_info)
    FROM lm_kiosks
    WHERE raw_hardware_info IS NOT NULL AND jsonb_typeof(raw_hardware_info) <> 'object'
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'voice_model', 'invalid',
                             'not a voice name; the default is used', raw_voice_model)
    FROM lm_kiosks WHERE raw_voice_model IS NOT NULL AND voice_model IS NULL
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'openai_model', 'invalid',
                             'not a model name; the default is used', raw_openai_model)
    FROM lm_kiosks WHERE raw_openai_model IS NOT NULL AND openai_model IS NULL
    """,
    # Blank strings mean "none" and pass silently; objects, lists and booleans are reported.
    *(
        f"""
        SELECT pg_temp.lm_report(gym_id, id, entry_index, '{field}', 'invalid',
                                 'not a text value; left empty', {raw})
        FROM lm_kiosks WHERE jsonb_typeof({raw}) NOT IN ('string', 'number')
        """
        for field, raw in (
            ("provisioning_code", "raw_code"),
            ("device_id", "raw_device_id"),
            ("location_in_gym", "raw_location_in_gym"),
        )
    ),
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'kiosk_config', 'unknown_keys',
                             'keys the platform does not know; dropped (a downgrade restores them)',
                             unknown_keys)
    FROM lm_kiosks WHERE unknown_keys IS NOT NULL
    """,
)

# --- slugs: unique, in the platform's shape ----------------------------------------------------

ASSIGN_SLUGS = (
    # A missing (or unusable) slug is derived from the gym name. Within one base, a legacy slug
    # beats a derived one (it may be printed on a kiosk or in a URL), then the oldest gym wins.
    """
    UPDATE lm_kiosks SET slug_base = COALESCE(given_slug, pg_temp.lm_slugify(gym_name), 'kiosk')
    """,
    """
    UPDATE lm_kiosks k SET slug = k.slug_base
    FROM (SELECT key, row_number() OVER (PARTITION BY slug_base
                                         ORDER BY given_slug IS NULL, key) AS rank
          FROM lm_kiosks) w
    WHERE w.key = k.key AND w.rank = 1
    """,
    # The others get the first free `<base>-<n>`. A suffix may land on another kiosk's legacy
    # slug (`lobby-2` can exist), so each pick must see the previous ones: a loop, over the
    # losers only, starting at their rank so a long run of one base stays linear.
    r"""
    DO $$
    DECLARE
        loser record;
        n int;
        candidate text;
    BEGIN
        FOR loser IN
            SELECT key, slug_base,
                   row_number() OVER (PARTITION BY slug_base ORDER BY key) + 1 AS first_n
            FROM lm_kiosks WHERE slug IS NULL ORDER BY key
        LOOP
            n := loser.first_n;
            LOOP
                candidate := rtrim(left(loser.slug_base, 63 - length(n::text)), '-') || '-' || n;
                EXIT WHEN NOT EXISTS (SELECT 1 FROM lm_kiosks WHERE slug = candidate);
                n := n + 1;
            END LOOP;
            UPDATE lm_kiosks SET slug = candidate WHERE key = loser.key;
        END LOOP;
    END
    $$
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'slug', 'missing',
                             'derived from the gym name: ' || slug, raw_slug)
    FROM lm_kiosks WHERE given_slug IS NULL
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'slug', 'normalized',
                             'not in the slug shape; became ' || given_slug, raw_slug)
    FROM lm_kiosks WHERE given_slug IS NOT NULL AND given_slug <> (raw_slug #>> '{}')
    """,
    """
    SELECT pg_temp.lm_report(gym_id, id, entry_index, 'slug', 'duplicate',
                             'already used by an earlier kiosk; became ' || slug, raw_slug)
    FROM lm_kiosks WHERE given_slug IS NOT NULL AND slug <> given_slug
    """,
)

# --- provisioning codes: the oldest gym's kiosk keeps a code held twice ------------------------

DEDUPLICATE_CODES = (
    "ALTER TABLE lm_kiosks ADD COLUMN code_kept_by bigint",
    """
    UPDATE lm_kiosks k SET code_kept_by = w.first_key
    FROM (SELECT key, first_value(key) OVER (PARTITION BY provisioning_code ORDER BY key)
                 AS first_key
          FROM lm_kiosks WHERE provisioning_code IS NOT NULL) w
    WHERE w.key = k.key AND w.first_key <> k.key
    """,
    """
    SELECT pg_temp.lm_report(
        k.gym_id, k.id, k.entry_index, 'provisioning_code', 'duplicate',
        'also the code of kiosk ' || keeper.slug || ' (gym ' || keeper.gym_id
            || '), which keeps it; cleared here',
        to_jsonb(k.provisioning_code))
    FROM lm_kiosks k JOIN lm_kiosks keeper ON keeper.key = k.code_kept_by
    """,
    "UPDATE lm_kiosks SET provisioning_code = NULL WHERE code_kept_by IS NOT NULL",
)

INSERT_KIOSKS = f"""
INSERT INTO {SCHEMA}.kiosks (
    id, gym_id, slug, name, provisioning_code, status, last_heartbeat, device_id, hardware_info,
    voice_model, openai_model, location_in_gym, created_at)
SELECT id, gym_id, slug,
       COALESCE(given_name,
                btrim(gym_name || ' kiosk' || CASE WHEN list_length > 1
                                                   THEN ' ' || (entry_index + 1) ELSE '' END)),
       provisioning_code,
       CASE WHEN given_status IN ('online', 'offline', 'error', 'provisioning') THEN given_status
            WHEN device_id IS NULL THEN 'provisioning'
            ELSE 'offline' END,
       last_heartbeat, device_id, hardware_info,
       COALESCE(voice_model, '{DEFAULT_VOICE}'),
       COALESCE(openai_model, '{DEFAULT_OPENAI_MODEL}'),
       location_in_gym,
       COALESCE(given_created_at, gym_created_at)
FROM lm_kiosks ORDER BY key
"""

CLEAN_UP = (
    "DROP TABLE lm_kiosks",
    "DROP TABLE lm_entries",
    "DROP TABLE lm_configs",
    "DROP FUNCTION pg_temp.lm_report(uuid, uuid, int, text, text, text, jsonb)",
    "DROP FUNCTION pg_temp.lm_timestamp(jsonb)",
    "DROP FUNCTION pg_temp.lm_slugify(text)",
    "DROP FUNCTION pg_temp.lm_text(jsonb)",
)


def _log_summary() -> None:
    """The alembic log gets the reconciliation and the report's counts (not in --sql mode)."""
    if context.is_offline_mode():
        return
    bind = op.get_bind()
    configs, entries, kiosks, lost = bind.execute(
        sa.text(
            f"""
            SELECT (SELECT count(*) FROM lm_configs), (SELECT count(*) FROM lm_entries),
                   (SELECT count(*) FROM {SCHEMA}.kiosks),
                   (SELECT count(*) FROM {REPORT}
                    WHERE revision = '0002' AND problem = 'not_a_kiosk')
            """
        )
    ).one()
    log.info(
        "legacy kiosk_config: %d gyms with a config, %d kiosk entries, %d kiosks created, "
        "%d entries not migrated",
        configs,
        entries,
        kiosks,
        lost,
    )
    counts = bind.execute(
        sa.text(
            f"SELECT field, problem, count(*) FROM {REPORT} WHERE revision = '0002' "
            "GROUP BY field, problem ORDER BY field, problem"
        )
    ).all()
    for field, problem, count in counts:
        log.warning("legacy kiosk_config: %s %s: %d (see %s)", field, problem, count, REPORT)


# --- downgrade: the kiosks back into one config per gym -----------------------------------------

# Each kiosk becomes an object with the legacy keys (absent rather than null) plus the unknown
# keys the upgrade set aside; the entries that were not migrated come back from the report, after
# the kiosks. One kiosk gives an object, several a list; a lone unmigrated entry comes back as it
# was (bare, or in a list if it was a list element).
RESTORE_CONFIGS = f"""
UPDATE {SCHEMA}.gyms g SET kiosk_config = c.config
FROM (
    SELECT gym_id,
           CASE WHEN count(*) = 1 AND bool_and(bare) THEN (array_agg(item))[1]
                ELSE jsonb_agg(item ORDER BY part, created_at, position, id) END AS config
    FROM (
        SELECT k.gym_id, 0 AS part, k.created_at, 0 AS position, k.id::text AS id, true AS bare,
               (SELECT jsonb_object_agg(f.key, f.value)
                FROM jsonb_each(jsonb_build_object(
                    'id', k.id, 'slug', k.slug, 'name', k.name,
                    'provisioning_code', k.provisioning_code, 'status', k.status,
                    'last_heartbeat', k.last_heartbeat, 'device_id', k.device_id,
                    'hardware_info', k.hardware_info, 'voice_model', k.voice_model,
                    'openai_model', k.openai_model, 'location_in_gym', k.location_in_gym,
                    'created_at', k.created_at)) f
                WHERE f.value <> 'null'::jsonb) || COALESCE(u.raw, '{{}}'::jsonb) AS item
        FROM {SCHEMA}.kiosks k
        LEFT JOIN {REPORT} u
               ON u.kiosk_id = k.id AND u.revision = '0002' AND u.problem = 'unknown_keys'
        UNION ALL
        SELECT i.entity_id, 1, NULL, i.entry_index, i.id::text, i.entry_index IS NULL, i.raw
        FROM {REPORT} i
        WHERE i.revision = '0002' AND i.problem = 'not_a_kiosk'
    ) items
    GROUP BY gym_id
) c
WHERE g.id = c.gym_id
"""

# A gym whose config was {{}} or [] gets it back (if it has no kiosk since).
RESTORE_EMPTY_CONFIGS = f"""
UPDATE {SCHEMA}.gyms g SET kiosk_config = i.raw
FROM {REPORT} i
WHERE i.revision = '0002' AND i.problem = 'empty' AND i.field = 'kiosk_config'
  AND i.entity_id = g.id AND g.kiosk_config IS NULL
"""
