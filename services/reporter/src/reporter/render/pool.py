"""Where rendering runs: in worker processes, so that PDF, charts and MIME (CPU-bound) neither
stall the event loop nor stay on one core; or inline when `render_processes` is 0."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from reporter.render.message import render_messages


class Renderer:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    async def messages(
        self,
        report_id: str,
        content: dict[str, Any],
        sender: str,
        recipients: list[tuple[str, str]],
    ) -> list[bytes]:
        if not self.processes:
            return render_messages(report_id, content, sender, recipients)
        if self._pool is None:
            # forkserver: children never inherit the service's event loop, sockets or threads.
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("forkserver")
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, render_messages, report_id, content, sender, recipients
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
