"""The composition root of churn-engine: everything the service is made of, wired in one place."""

from __future__ import annotations

from pathlib import Path

from churn_engine import projection, routes, staff_requests
from churn_engine.settings import Settings
from churn_engine.tables import SCHEMA, messaging, metadata
from churn_engine.ticks import tick_handlers
from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings


def bootstrap(
    platform: PlatformSettings | None = None, settings: Settings | None = None
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    app = ServiceApp(SERVICE, platform, port=settings.port)
    app.http.state.churn_settings = settings
    app.http.include_router(routes.router)
    app.handlers.include(projection.handlers)
    app.handlers.include(staff_requests.handlers)
    app.handlers.include(tick_handlers(settings))
    return app


SERVICE = ServiceDefinition(
    name="churn-engine",
    schema=SCHEMA,
    default_port=8003,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    bootstrap=bootstrap,
    description="Member activity, churn risk scores and churn alerts.",
)
