"""Run one service: logging, settings, migrations, then HTTP and subscribers in one process.

uvicorn owns the signals: on SIGTERM it stops accepting requests and runs the lifespan
shutdown, which stops the subscribers (in-flight handlers finish and commit), then the relay.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from importlib.metadata import entry_points

import uvicorn

from jarvis_common import ws_protocol
from jarvis_common.db.migrations import upgrade
from jarvis_common.logs import configure_logging
from jarvis_common.service import ServiceDefinition
from jarvis_common.settings import PlatformSettings

ENTRY_POINT_GROUP = "jarvis.services"
log = logging.getLogger(__name__)


def installed_services() -> dict[str, ServiceDefinition]:
    return {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}


def tune_garbage_collector(young_threshold: int) -> None:
    """Freeze what start-up allocated (modules, tables, models: it lives as long as the process)
    so full collections stop walking it, and let batches' short-lived objects die young."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 10, 10)


def run(definition: ServiceDefinition) -> None:
    platform = PlatformSettings()
    configure_logging(definition.name, platform.log_level, json=platform.log_json)
    if platform.migrate_on_start:
        upgrade(definition, platform.database_url)
    app = definition.bootstrap(platform=platform)
    tune_garbage_collector(platform.gc_threshold or definition.gc_threshold)
    log.info("%s listening on port %d", definition.name, app.port)
    uvicorn.run(
        app.http,
        host="0.0.0.0",
        port=app.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(platform.shutdown_grace_s),
        **ws_protocol.UVICORN_OPTIONS,
    )


def main(argv: list[str] | None = None) -> None:
    services = installed_services()
    parser = argparse.ArgumentParser(description="Run one JARVIS service.")
    parser.add_argument("service", choices=sorted(services))
    args = parser.parse_args(argv)
    run(services[args.service])


if __name__ == "__main__":
    sys.exit(main())
