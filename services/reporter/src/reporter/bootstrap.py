"""The composition root of reporter: everything the service is made of, wired in one place."""

from __future__ import annotations

from pathlib import Path

from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings
from reporter.settings import Settings
from reporter.tables import SCHEMA, messaging, metadata


def bootstrap(
    platform: PlatformSettings | None = None, settings: Settings | None = None
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    return ServiceApp(SERVICE, platform, port=settings.port)


SERVICE = ServiceDefinition(
    name="reporter",
    schema=SCHEMA,
    default_port=8004,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    bootstrap=bootstrap,
    description="Weekly reports for gym owners.",
)
