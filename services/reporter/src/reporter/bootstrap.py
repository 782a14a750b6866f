"""The composition root of reporter: everything the service is made of, wired in one place."""

from __future__ import annotations

from pathlib import Path

from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings
from reporter import projections, routes
from reporter.mailer import Mailer
from reporter.metrics import ReporterMetrics
from reporter.runs import tick_handlers
from reporter.settings import Settings
from reporter.tables import SCHEMA, messaging, metadata
from reporter.worker import ReportWorker


def bootstrap(
    platform: PlatformSettings | None = None,
    settings: Settings | None = None,
    *,
    start_worker: bool = True,
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    app = ServiceApp(SERVICE, platform, port=settings.port)
    metrics = ReporterMetrics(app.metrics.prefix, app.metrics.registry)
    worker = ReportWorker(app.db, settings, Mailer(settings), metrics)
    app.http.state.reporter_settings = settings
    app.http.state.report_worker = worker
    app.http.include_router(routes.router)
    app.handlers.include(projections.handlers)
    app.handlers.include(tick_handlers(settings))
    if start_worker:

        async def report_worker(_: ServiceApp) -> None:
            await worker.run_forever()

        app.background.append(report_worker)
    return app


SERVICE = ServiceDefinition(
    name="reporter",
    schema=SCHEMA,
    default_port=8004,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    bootstrap=bootstrap,
    description="Weekly reports for gym owners: projections, generation, rendering, delivery.",
)
