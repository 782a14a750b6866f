"""The baseline for the registry API benchmark: a bare FastAPI endpoint doing one query.

Same framework, same server, same database and data as the registry's kiosk list, without
authentication, tenant scoping, pagination counts or the unit of work.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["BENCH_DSN"], min_size=5, max_size=10)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/kiosks")
async def kiosks(gym_id: str) -> list[dict[str, Any]]:
    rows = await app.state.pool.fetch(
        "SELECT id, slug, name, status, last_heartbeat FROM registry.kiosks "
        "WHERE gym_id = $1 ORDER BY name, id LIMIT 50",
        gym_id,
    )
    return [dict(row) for row in rows]
