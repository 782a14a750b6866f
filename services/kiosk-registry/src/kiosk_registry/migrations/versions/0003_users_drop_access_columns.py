"""Carry `users.franchise_access` / `gym_access` into `franchise_id` / `gym_id`, then drop them.

The legacy columns hold NULL, a UUID string, a JSON array of them, several ids in one string
("a,b", "{a,b}", a JSON array encoded as a string), junk, or ids of franchises and gyms that no
longer exist. The platform keeps one scope per user, so:

- `franchise_id` / `gym_id` are filled only where empty, only with ids that exist, and only
  where the user's role has that scope (0004's role-scope check is enforced on every later
  update of the row, so a super admin given a franchise could never be edited again);
- several usable ids: the one that agrees with the user's other scope wins (the franchise of
  the user's gym; a gym of the user's franchise), then the first listed; the choice is reported;
- everything not carried is reported in `legacy_migration_issues` with its legacy value
  (docs/legacy-migration.md), and summarised in the alembic log.

`franchise_id` / `gym_id` values that point at nothing are cleared (and reported): 0004 puts
foreign keys on them. Set-based SQL with guarded casts: no legacy value can raise.

The downgrade re-adds the columns as one-element JSON arrays of `franchise_id` / `gym_id`.

Revision ID: 0003
Revises: 0002
"""

import logging

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "registry"
REPORT = f"{SCHEMA}.legacy_migration_issues"
log = logging.getLogger("alembic.runtime.migration")
FRANCHISE_OF_GYM = f"SELECT franchise_id FROM {SCHEMA}.gyms WHERE id ="


def upgrade() -> None:
    for statement in (
        *HELPERS,
        *COLLECT_IDS,
        *CLEAR_DANGLING,
        *_carry(
            field="franchise_access",
            column="franchise_id",
            target_table="franchises",
            scope_roles="u.role <> 'super_admin'",
            # the franchise of the user's gym, if the user has one
            preferred=f"c.target = ({FRANCHISE_OF_GYM} u.gym_id)",
        ),
        *_carry(
            field="gym_access",
            column="gym_id",
            target_table="gyms",
            scope_roles="u.role NOT IN ('super_admin', 'franchise_owner')",
            # a gym of the user's franchise (filled just above, if it was carried)
            preferred=f"u.franchise_id = ({FRANCHISE_OF_GYM} c.target)",
        ),
    ):
        op.execute(statement)
    _log_summary()
    for statement in CLEAN_UP:
        op.execute(statement)
    op.drop_column("users", "franchise_access", schema=SCHEMA)
    op.drop_column("users", "gym_access", schema=SCHEMA)


def downgrade() -> None:
    op.add_column("users", sa.Column("franchise_access", postgresql.JSONB), schema=SCHEMA)
    op.add_column("users", sa.Column("gym_access", postgresql.JSONB), schema=SCHEMA)
    op.execute(
        f"""
        UPDATE {SCHEMA}.users SET
            franchise_access = CASE WHEN franchise_id IS NOT NULL
                                    THEN jsonb_build_array(franchise_id) END,
            gym_access = CASE WHEN gym_id IS NOT NULL THEN jsonb_build_array(gym_id) END
        """
    )
    # The report described this upgrade; running it again writes it again.
    op.execute(f"DELETE FROM {REPORT} WHERE revision = '0003'")


HELPERS = (
    rf"""
    CREATE OR REPLACE FUNCTION pg_temp.lm_report(
        usr uuid, field text, problem text, detail text, raw jsonb
    ) RETURNS void LANGUAGE sql AS $$
        INSERT INTO {REPORT} (revision, entity, entity_id, field, problem, detail, raw)
        VALUES ('0003', 'user', usr, field, problem, detail, raw)
    $$
    """,
)

COLLECT_IDS = (
    # Every legacy value: a list gives its elements, anything else is one value.
    f"""
    CREATE TEMP TABLE lm_access_values AS
    SELECT u.id AS user_id, a.field, (v.ordinality - 1)::int AS value_index, v.value
    FROM {SCHEMA}.users u
    CROSS JOIN LATERAL (VALUES ('franchise_access', u.franchise_access),
                               ('gym_access', u.gym_access)) AS a(field, raw)
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(a.raw) = 'array' THEN a.raw ELSE jsonb_build_array(a.raw) END
    ) WITH ORDINALITY AS v(value, ordinality)
    WHERE a.raw IS NOT NULL AND a.raw <> 'null'::jsonb
    """,
    """
    SELECT pg_temp.lm_report(user_id, field, 'invalid',
                             'a JSON ' || jsonb_typeof(value) || ', not an id: not carried', value)
    FROM lm_access_values WHERE jsonb_typeof(value) <> 'string'
    """,
    # The ids in each string: separators, braces, brackets and quotes split it, so "a,b",
    # "{a,b}" and '["a","b"]' all give a and b. A blank string gives nothing (no access).
    r"""
    CREATE TEMP TABLE lm_access_ids AS
    SELECT v.user_id, v.field, v.value_index, t.token_index, t.token,
           CASE WHEN pg_input_is_valid(t.token, 'uuid') THEN t.token::uuid END AS target,
           NULL::boolean AS known
    FROM lm_access_values v
    CROSS JOIN LATERAL regexp_split_to_table(v.value #>> '{}', '[\s,;{}\[\]"'']+')
         WITH ORDINALITY AS t(token, token_index)
    WHERE jsonb_typeof(v.value) = 'string' AND t.token <> ''
    """,
    f"""
    UPDATE lm_access_ids a SET known = CASE a.field
        WHEN 'franchise_access'
            THEN EXISTS (SELECT 1 FROM {SCHEMA}.franchises f WHERE f.id = a.target)
        ELSE EXISTS (SELECT 1 FROM {SCHEMA}.gyms g WHERE g.id = a.target)
    END
    WHERE a.target IS NOT NULL
    """,
    """
    SELECT pg_temp.lm_report(
        a.user_id, a.field, 'invalid',
        'not an id: ' || string_agg(a.token, ', ' ORDER BY a.token_index) || '; not carried',
        v.value)
    FROM lm_access_ids a
    JOIN lm_access_values v USING (user_id, field, value_index)
    WHERE a.target IS NULL
    GROUP BY a.user_id, a.field, a.value_index, v.value
    """,
    """
    SELECT pg_temp.lm_report(
        user_id, field, 'unknown_id',
        'no such ' || CASE field WHEN 'franchise_access' THEN 'franchise' ELSE 'gym' END
            || '; not carried',
        to_jsonb(token))
    FROM lm_access_ids WHERE target IS NOT NULL AND NOT known
    """,
    # The usable ids of each user and column, distinct, in the order they were listed.
    "CREATE TEMP TABLE lm_carried (id_column text, user_id uuid)",
    """
    CREATE TEMP TABLE lm_candidates AS
    SELECT user_id, field, target, min(position) AS position
    FROM (SELECT user_id, field, target,
                 row_number() OVER (PARTITION BY user_id, field
                                    ORDER BY value_index, token_index) AS position
          FROM lm_access_ids WHERE known) listed
    GROUP BY user_id, field, target
    """,
)

CLEAR_DANGLING = tuple(
    statement
    for column, table in (("franchise_id", "franchises"), ("gym_id", "gyms"))
    for statement in (
        f"""
        SELECT pg_temp.lm_report(
            u.id, '{column}', 'dangling',
            'no such {table[:-1]}; cleared (then carried from access if it can)',
            to_jsonb(u.{column}))
        FROM {SCHEMA}.users u
        WHERE u.{column} IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.{table} t WHERE t.id = u.{column})
        """,
        f"""
        UPDATE {SCHEMA}.users u SET {column} = NULL
        WHERE u.{column} IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.{table} t WHERE t.id = u.{column})
        """,
    )
)


def _carry(
    *, field: str, column: str, target_table: str, scope_roles: str, preferred: str
) -> tuple[str, ...]:
    """Statements carrying one access column into its id column, reporting what is not."""
    candidates = f"""
        FROM lm_candidates c JOIN {SCHEMA}.users u ON u.id = c.user_id
        WHERE c.field = '{field}'
    """
    return (
        # The role has no such scope: nothing is carried.
        f"""
        SELECT pg_temp.lm_report(u.id, '{field}', 'not_applicable',
                                 'a ' || u.role || ' has no {column}; not carried',
                                 jsonb_agg(c.target ORDER BY c.position))
        {candidates} AND NOT ({scope_roles})
        GROUP BY u.id, u.role
        """,
        # Already set: it stays; other listed ids are access the platform cannot express.
        f"""
        SELECT pg_temp.lm_report(u.id, '{field}', 'not_carried',
                                 '{column} is already ' || u.{column} || '; these are dropped',
                                 jsonb_agg(c.target ORDER BY c.position))
        {candidates} AND ({scope_roles}) AND u.{column} IS NOT NULL AND c.target <> u.{column}
        GROUP BY u.id, u.{column}
        """,
        # Empty: the preferred id, then the first listed.
        f"""
        CREATE TEMP TABLE lm_choice AS
        SELECT DISTINCT ON (c.user_id) c.user_id, c.target,
               count(*) OVER listed AS choices,
               jsonb_agg(c.target) OVER listed AS listed
        {candidates} AND ({scope_roles}) AND u.{column} IS NULL
        WINDOW listed AS (PARTITION BY c.user_id ORDER BY c.position
                          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        ORDER BY c.user_id, COALESCE({preferred}, false) DESC, c.position
        """,
        f"""
        SELECT pg_temp.lm_report(user_id, '{field}', 'ambiguous',
                                 choices || ' usable ids; {column} set to ' || target,
                                 jsonb_build_object('listed', listed, 'chosen', target))
        FROM lm_choice WHERE choices > 1
        """,
        f"""
        UPDATE {SCHEMA}.users u SET {column} = ch.target
        FROM lm_choice ch WHERE u.id = ch.user_id
        """,
        f"INSERT INTO lm_carried SELECT '{column}', user_id FROM lm_choice",
        *(
            # A gym manager's scope is the gym; a franchise that disagrees is only reported.
            [
                f"""
                SELECT pg_temp.lm_report(
                    u.id, 'gym_access', 'outside_franchise',
                    'gym_id set to ' || g.id || ', a gym outside the user''s franchise '
                        || u.franchise_id || '; check which one is right',
                    jsonb_build_object('gym_id', g.id, 'gym_franchise_id', g.franchise_id,
                                       'user_franchise_id', u.franchise_id))
                FROM lm_choice ch
                JOIN {SCHEMA}.users u ON u.id = ch.user_id
                JOIN {SCHEMA}.gyms g ON g.id = ch.target
                WHERE u.franchise_id IS NOT NULL
                  AND g.franchise_id IS DISTINCT FROM u.franchise_id
                """
            ]
            if target_table == "gyms"
            else []
        ),
        "DROP TABLE lm_choice",
    )


CLEAN_UP = (
    "DROP TABLE lm_carried",
    "DROP TABLE lm_candidates",
    "DROP TABLE lm_access_ids",
    "DROP TABLE lm_access_values",
    "DROP FUNCTION pg_temp.lm_report(uuid, text, text, text, jsonb)",
)


def _log_summary() -> None:
    """The alembic log gets what was carried and the report's counts (not in --sql mode)."""
    if context.is_offline_mode():
        return
    bind = op.get_bind()
    users, with_access, franchises, gyms = bind.execute(
        sa.text(
            f"""
            SELECT count(*),
                   count(*) FILTER (WHERE franchise_access IS NOT NULL OR gym_access IS NOT NULL),
                   (SELECT count(*) FROM lm_carried WHERE id_column = 'franchise_id'),
                   (SELECT count(*) FROM lm_carried WHERE id_column = 'gym_id')
            FROM {SCHEMA}.users
            """
        )
    ).one()
    log.info(
        "legacy access columns: %d users, %d with access values; franchise_id filled for %d,"
        " gym_id for %d",
        users,
        with_access,
        franchises,
        gyms,
    )
    counts = bind.execute(
        sa.text(
            f"SELECT field, problem, count(*) FROM {REPORT} WHERE revision = '0003' "
            "GROUP BY field, problem ORDER BY field, problem"
        )
    ).all()
    for field, problem, count in counts:
        log.warning("legacy access columns: %s %s: %d (see %s)", field, problem, count, REPORT)
