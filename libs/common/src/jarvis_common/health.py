"""`/healthz` (the process is alive), `/readyz` (database and broker reachable), `/metrics`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

health_router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_S = 2.0


@health_router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    return {"status": "ok", "service": request.app.state.service.name}


@health_router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    service = request.app.state.service
    if not service.started:
        return JSONResponse({"status": "starting"}, status_code=503)
    checks = {
        "database": await _check(service.db.ping()),
        "broker": await _check(service.producer.client.fetch_all_metadata()),
    }
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@health_router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = request.app.state.service.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _check(probe: object) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
