"""The composition root of scheduler: everything the service is made of, wired in one place."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings
from scheduler import schedules
from scheduler.clock import Clock, SystemClock
from scheduler.metrics import SchedulerMetrics
from scheduler.settings import Settings
from scheduler.tables import SCHEMA, messaging, metadata
from scheduler.ticker import Ticker


def bootstrap(
    platform: PlatformSettings | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    clock = clock or SystemClock()
    app = ServiceApp(SERVICE, platform, port=settings.port)
    app.http.state.ticker = Ticker(
        app.db,
        schedules.resolve(settings, platform.timezone, clock.now()),
        clock=clock,
        metrics=SchedulerMetrics.register(app.metrics),
        late_after=timedelta(seconds=settings.late_after_s),
        retry_interval_s=settings.retry_interval_s,
    )
    app.background.append(run_ticker)
    return app


async def run_ticker(app: ServiceApp) -> None:
    ticker: Ticker = app.http.state.ticker
    await ticker.run()


SERVICE = ServiceDefinition(
    name="scheduler",
    schema=SCHEMA,
    default_port=8005,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    bootstrap=bootstrap,
    description="Publishes schedule.tick for the platform's periodic jobs.",
)
