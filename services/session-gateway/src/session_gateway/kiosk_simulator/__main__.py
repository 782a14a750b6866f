"""`python -m session_gateway.kiosk_simulator`: run simulated kiosks until Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from session_gateway.kiosk_simulator.config import SimulatorConfig, parse_args
from session_gateway.kiosk_simulator.fleet import Fleet, SetupFailed


async def run(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await Fleet(config).run(stop)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(run(config))
    except SetupFailed as exc:
        logging.getLogger("kiosk_simulator").error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
