"""Alembic for a service that owns one schema, with its version table inside that schema.

A service's `migrations/env.py` is two lines: it calls `run_alembic_env(SERVICE)`. Upgrading is
done in-process by `upgrade()` at start-up (or `alembic` on the command line, which reads
`JARVIS_DATABASE_URL`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

if TYPE_CHECKING:
    from jarvis_common.service import ServiceDefinition


def alembic_config(definition: ServiceDefinition, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(definition.migrations_dir))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["definition"] = definition
    return cfg


def upgrade(definition: ServiceDefinition, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(definition, database_url), revision)


def downgrade(definition: ServiceDefinition, database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(definition, database_url), revision)


def run_alembic_env(definition: ServiceDefinition) -> None:
    cfg = context.config
    url = cfg.attributes.get("database_url")
    if url is None:
        from jarvis_common.settings import PlatformSettings

        url = PlatformSettings().database_url
    schema = definition.schema

    def migrate(conn: Connection) -> None:
        # Replicas of one service starting together migrate one after the other.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"migrate:{schema}"})
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=conn,
            target_metadata=definition.metadata,
            version_table_schema=schema,
            include_schemas=False,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate)
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=definition.metadata,
            version_table_schema=schema,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    _run_coroutine(run())


def _run_coroutine(coro: object) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)  # type: ignore[arg-type]
        return
    # Called from inside an event loop (tests, the runner): run on a private loop in a thread.
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
