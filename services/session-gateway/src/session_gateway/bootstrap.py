"""The composition root of session-gateway: what the service is made of, wired in one place."""

from __future__ import annotations

from pathlib import Path

from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings
from session_gateway import api, kiosk_directory, kiosk_socket, member_directory
from session_gateway.recovery import keep_lease_and_close_orphans
from session_gateway.session_manager import SessionManager, end_sessions_on_shutdown
from session_gateway.settings import Settings
from session_gateway.tables import SCHEMA, messaging, metadata


def bootstrap(
    platform: PlatformSettings | None = None, settings: Settings | None = None
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    app = ServiceApp(SERVICE, platform, port=settings.port)
    app.http.include_router(api.router)
    app.http.include_router(kiosk_socket.router)
    app.handlers.include(kiosk_directory.handlers)
    app.handlers.include(member_directory.handlers)
    # Live sessions over the kiosk socket: the Realtime relay with an OpenAI key, else offline.
    app.http.state.sessions = SessionManager(app, settings)
    app.background.append(keep_lease_and_close_orphans)
    app.on_stop.append(end_sessions_on_shutdown)
    return app


SERVICE = ServiceDefinition(
    name="session-gateway",
    schema=SCHEMA,
    default_port=8001,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    bootstrap=bootstrap,
    description="Kiosk connections, relayed conversations, transcripts and cost.",
    # Audio is relayed within milliseconds, and a young collection of 100k objects took 25-50 ms:
    # at 700 streaming sessions that was the latency's p99. 10k keeps collections to a few ms.
    gc_threshold=10_000,
)
