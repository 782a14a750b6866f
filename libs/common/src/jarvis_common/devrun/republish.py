"""After a fresh embedded broker starts, queue retained outbox rows to be published again.

The memory broker lost every message, including ones that were published but not yet consumed.
Every service schema with an outbox gets its rows still inside the retention period marked
unpublished; each service's relay sends them again in their original order, and consumers,
which deduplicate by event id, apply only what they had not applied yet.
"""

from __future__ import annotations

import asyncpg

FIND_OUTBOXES = """
SELECT table_schema FROM information_schema.tables
WHERE table_name = 'outbox' AND table_schema NOT IN ('pg_catalog', 'information_schema')
"""


async def republish_retained(dsn: str, retention_hours: float) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        schemas = [row["table_schema"] for row in await conn.fetch(FIND_OUTBOXES)]
        counts: dict[str, int] = {}
        for schema in schemas:
            status = await conn.execute(
                f'UPDATE "{schema}".outbox SET published_at = NULL '
                "WHERE published_at IS NOT NULL "
                "AND created_at > now() - make_interval(secs => $1)",
                retention_hours * 3600,
            )
            counts[schema] = int(status.split()[-1])
        return counts
    finally:
        await conn.close()
