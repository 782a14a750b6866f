"""The composition root of kiosk-registry: everything the service is made of, wired in one place."""

from __future__ import annotations

from pathlib import Path

from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings
from kiosk_registry import api
from kiosk_registry.handlers import handlers
from kiosk_registry.settings import Settings
from kiosk_registry.tables import SCHEMA, messaging, metadata


def bootstrap(
    platform: PlatformSettings | None = None, settings: Settings | None = None
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    app = ServiceApp(SERVICE, platform, port=settings.port)
    app.handlers.include(handlers)
    app.http.include_router(api.router)
    return app


SERVICE = ServiceDefinition(
    name="kiosk-registry",
    schema=SCHEMA,
    default_port=8000,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    bootstrap=bootstrap,
    description="System of record for tenants and the kiosk fleet; the read side dashboards query.",
)
