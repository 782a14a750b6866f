"""The unit of work's raw asyncpg connection shares the session's transaction."""

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from jarvis_common.db import Database
from probe import SCHEMA, create_probe_schema, effects, messaging


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    await create_probe_schema(database_url)
    database = Database(database_url, schema=SCHEMA, messaging=messaging, source="probe")
    yield database
    await database.dispose()


async def _effects_of(db: Database, member: str) -> int:
    async with db.session() as session:
        return await session.scalar(
            select(func.count()).select_from(effects).where(effects.c.member_id == member)
        )


async def _insert_raw(driver, member: str) -> None:
    await driver.execute(
        "INSERT INTO effects (event_id, member_id) VALUES ($1, $2)", uuid.uuid4(), member
    )


async def test_raw_statements_first_in_the_unit_of_work_are_rolled_back_with_it(db) -> None:
    member = "raw-first"
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            # Nothing ran through the session yet: the case where the transaction is not begun.
            driver = await uow.driver_connection()
            assert driver.is_in_transaction()
            await _insert_raw(driver, member)
            seen = await uow.session.scalar(
                select(func.count()).select_from(effects).where(effects.c.member_id == member)
            )
            assert seen == 1  # the session sees the raw row before any commit
            assert await _effects_of(db, member) == 0  # and no other connection does
            raise RuntimeError("roll back")
    assert await _effects_of(db, member) == 0


async def test_raw_and_session_statements_commit_and_roll_back_together(db) -> None:
    async with db.unit_of_work() as uow:
        await uow.session.execute(effects.insert().values(event_id=uuid.uuid4(), member_id="both"))
        await _insert_raw(await uow.driver_connection(), "both")
    assert await _effects_of(db, "both") == 2

    async with db.unit_of_work() as uow:
        await uow.session.execute(effects.insert().values(event_id=uuid.uuid4(), member_id="none"))
        await _insert_raw(await uow.driver_connection(), "none")
        await uow.rollback()
    assert await _effects_of(db, "none") == 0
