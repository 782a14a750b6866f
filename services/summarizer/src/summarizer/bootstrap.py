"""The composition root of summarizer: everything the service is made of, wired in one place."""

from __future__ import annotations

import logging
from pathlib import Path

from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings
from summarizer.handlers import handlers_for
from summarizer.metrics import SummarizerMetrics
from summarizer.providers import make_provider
from summarizer.settings import Settings
from summarizer.summarize import Summarizer
from summarizer.tables import SCHEMA, messaging, metadata

log = logging.getLogger(__name__)


def bootstrap(
    platform: PlatformSettings | None = None, settings: Settings | None = None
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    app = ServiceApp(SERVICE, platform, port=settings.port)
    metrics = SummarizerMetrics.register(app.metrics)
    provider = make_provider(settings, metrics)
    summarizer = Summarizer(
        provider,
        settings,
        metrics,
        pending_limit=max(1000, 4 * platform.consumer_batch_size),
        # A kept error must be gone before the event's first retry arrives (after its backoff).
        failure_ttl_s=min(0.5, platform.retry_initial_delay_s / 2),
    )
    app.http.state.summarizer = summarizer
    app.handlers.include(handlers_for(summarizer))

    # Stop hooks run once the subscribers have stopped: no model call is in flight any more.
    async def close_provider(_: ServiceApp) -> None:
        await provider.aclose()

    app.on_stop.append(close_provider)
    log.info(
        "summaries by the %s provider%s",
        provider.name,
        f" ({settings.model}, {settings.max_concurrent_calls} calls at once)"
        if provider.remote
        else "",
    )
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
