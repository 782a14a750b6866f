"""HTTP pieces every service shares: the unit-of-work dependency, error rendering, metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from jarvis_common.db.uow import UnitOfWork
from jarvis_common.errors import AppError
from jarvis_common.logs import log_context

if TYPE_CHECKING:
    from jarvis_common.service import ServiceApp


def service_of(request: Request) -> ServiceApp:
    return request.app.state.service


async def _unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    # The request boundary owns the transaction: commit after the route returns, roll back if
    # it raised. Routes and services only flush.
    async with service_of(request).db.unit_of_work(trace_id=request.state.trace_id) as uow:
        yield uow


# scope="function": the commit happens before the response is sent, so a client never sees a
# success for a transaction that then failed to commit.
UoW = Annotated[UnitOfWork, Depends(_unit_of_work, scope="function")]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error the platform's APIs answer with (FastAPI's own 422 keeps its `detail` list)."""

    error: ErrorDetail


# What most authenticated, tenant-scoped routes can answer besides validation errors.
COMMON_ERRORS = (400, 401, 403, 404, 409)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the errors a router can answer with."""
    described = {
        400: "The request is not acceptable as it is.",
        401: "Missing, invalid or expired credentials.",
        403: "Your role may not do this.",
        404: "No such resource in your tenant.",
        409: "Conflicts with the current state (duplicate, stale version, already used).",
        410: "No longer available (expired).",
        413: "The body is too large.",
        415: "Unsupported content type.",
    }
    return {status: {"model": ErrorBody, "description": described[status]} for status in statuses}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def render_app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status_code
        )

    @app.exception_handler(DBAPIError)
    async def render_refused_value(_: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL's data exceptions (class 22: a NUL character in text, a number out of
        # range...) are the client's input, not our fault; anything else is a real 500.
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "")
        if not sqlstate.startswith("22"):
            raise exc
        return JSONResponse(
            {
                "error": {
                    "code": "invalid_value",
                    "message": "a value cannot be stored (e.g. a NUL character in text)",
                }
            },
            status_code=422,
        )


def install_request_context(app: FastAPI) -> None:
    """Trace every request (a caller's `x-trace-id` is kept) and measure it."""

    @app.middleware("http")
    async def trace_and_measure(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        trace_id = request.headers.get("x-trace-id") or uuid.uuid4().hex
        request.state.trace_id = trace_id
        with log_context(trace_id=trace_id):
            response = await call_next(request)
        response.headers["x-trace-id"] = trace_id
        metrics = service_of(request).metrics
        route = _route_template(request)
        metrics.http_requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.http_request_seconds.labels(request.method, route).observe(
            time.perf_counter() - started
        )
        return response


def _route_template(request: Request) -> str:
    # The matched route's template, not the raw path, keeps the label set bounded.
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")
