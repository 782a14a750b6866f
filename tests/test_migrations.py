"""Every service's alembic history goes up, down to nothing, and up again, in its own schema."""

import asyncpg
import pytest

from jarvis_common.db.migrations import downgrade, upgrade
from jarvis_common.runner import installed_services
from jarvis_common.settings import plain_dsn

SERVICES = installed_services()


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_migrations_round_trip(name: str, database_url: str) -> None:
    definition = SERVICES[name]
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1"
        at_head = await conn.fetchval(tables, definition.schema)
        assert at_head >= 3  # outbox, processed_events, alembic_version

        downgrade(definition, database_url, "base")
        assert await conn.fetchval(tables, definition.schema) == 1  # only alembic_version left

        upgrade(definition, database_url)
        assert await conn.fetchval(tables, definition.schema) == at_head
        version = await conn.fetchval(
            f'SELECT version_num FROM "{definition.schema}".alembic_version'
        )
        assert version is not None
        # Nobody else's schema was touched.
        others = {d.schema for d in SERVICES.values()} - {definition.schema}
        for schema in others:
            assert await conn.fetchval(tables, schema) >= 3
    finally:
        await conn.close()


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_tables_match_what_the_migrations_built(name: str, database_url: str) -> None:
    """The service's table definitions and its migration history describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    definition = SERVICES[name]
    engine = create_async_engine(database_url)

    def diff(conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": lambda n, kind, _: kind != "schema" or n == definition.schema,
                "compare_type": True,
                "version_table_schema": definition.schema,
            },
        )
        return compare_metadata(context, definition.metadata)

    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
