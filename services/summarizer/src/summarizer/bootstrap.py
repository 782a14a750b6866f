"""The composition root of summarizer: everything the service is made of, wired in one place."""

from __future__ import annotations

from pathlib import Path

from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings
from summarizer.handlers import handlers
from summarizer.settings import Settings
from summarizer.tables import SCHEMA, messaging, metadata


def bootstrap(
    platform: PlatformSettings | None = None, settings: Settings | None = None
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    app = ServiceApp(SERVICE, platform, port=settings.port)
    app.handlers.include(handlers)
    return app


SERVICE = ServiceDefinition(
    name="summarizer",
    schema=SCHEMA,
    default_port=8002,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    bootstrap=bootstrap,
    description="Turns every closed session into one conversation summary.",
)
