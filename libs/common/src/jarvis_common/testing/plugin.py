"""pytest fixtures for tests on the real embedded PostgreSQL and broker.

- one embedded PostgreSQL per test session, with a template database migrated to every installed
  service's head once; each test that asks for `database_url` gets a fresh copy of it;
- a fresh embedded broker per test (`kafka`): it starts in milliseconds and isolates topics,
  offsets and consumer groups completely;
- `JARVIS_TEST_DATABASE_URL` (an admin URL to an external server) replaces the embedded
  PostgreSQL.

Enable with `pytest_plugins = ["jarvis_common.testing.plugin"]` in a root conftest.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from jarvis_common.db.migrations import upgrade
from jarvis_common.devrun.kafka import EmbeddedKafka, free_port
from jarvis_common.devrun.postgres import EmbeddedPostgres
from jarvis_common.runner import installed_services
from jarvis_common.settings import PlatformSettings, plain_dsn
from jarvis_common.testing.waiting import wait_for

TEMPLATE = "jarvis_template"

__all__ = ["wait_for"]


def _with_database(admin_url: str, name: str) -> str:
    # Both the socket form (…/postgres?host=…) and the TCP form (…:5432/postgres) are handled.
    base, _, query = admin_url.partition("?")
    base = base.rsplit("/", 1)[0] + f"/{name}"
    return f"{base}?{query}" if query else base


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    external = os.environ.get("JARVIS_TEST_DATABASE_URL")
    if external:
        yield PlatformSettings(database_url=external).database_url
        return
    with tempfile.TemporaryDirectory(prefix="jarvis-test-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg", delete_on_stop=True)
        server.start()
        try:
            yield server.url("postgres")
        finally:
            server.stop()


@pytest.fixture(scope="session")
async def template_database(postgres_admin_url: str) -> str:
    conn = await asyncpg.connect(plain_dsn(postgres_admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    url = _with_database(postgres_admin_url, TEMPLATE)
    for definition in installed_services().values():
        upgrade(definition, url)
    return TEMPLATE


@pytest.fixture
async def database_url(postgres_admin_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh database at every service's migration head, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(plain_dsn(postgres_admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await conn.close()
    yield _with_database(postgres_admin_url, name)
    conn = await asyncpg.connect(plain_dsn(postgres_admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[EmbeddedKafka]:
    broker = EmbeddedKafka(free_port(), log_file=tmp_path / "broker.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def platform_settings(database_url: str, kafka: EmbeddedKafka) -> PlatformSettings:
    """Settings for a service under test: fast polling, short retry delays."""
    return PlatformSettings(
        _env_file=None,
        database_url=database_url,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        outbox_poll_interval_s=0.02,
        retry_initial_delay_s=0.2,
        retry_max_delay_s=1.0,
        retry_max_attempts=3,
        shutdown_grace_s=10,
        consumer_session_timeout_ms=2000,
        admin_token="test-admin-token",
        log_json=False,
    )


from jarvis_common.testing.fake_openai import FakeOpenAI  # noqa: E402


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI API on loopback for the real `openai` SDK (see docs/testing.md)."""
    async with FakeOpenAI() as fake:
        yield fake
