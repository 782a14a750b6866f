"""What the simulator is told: command-line options, with defaults that `make run` satisfies.

Every option also reads an environment variable (`JARVIS_SIMULATOR_*`). Without them the
simulator takes what the dev runner gives its companions: the services' URLs
(`JARVIS_DEV_<SERVICE>_URL`) and the bootstrap super admin (`JARVIS_REGISTRY_BOOTSTRAP_ADMIN_*`,
else `.jarvis/admin-token`, its password), so it needs no argument under `make run`.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

KIOSK_SOCKET_PATH = "/api/v1/kiosk/ws"
DEV_ADMIN_EMAIL = "admin@jarvis.dev"


@dataclass(frozen=True)
class Behaviour:
    """How a simulated kiosk behaves between connecting and stopping."""

    heartbeat_interval_s: float = 30.0
    # mean time between two conversations of one kiosk (exponentially distributed); 0: never
    conversation_every_s: float = 120.0
    questions_per_conversation: tuple[int, int] = (2, 4)
    think_time_s: float = 2.0  # between an answer and the next question
    answer_timeout_s: float = 30.0  # waiting longer than this abandons the conversation
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0


@dataclass(frozen=True)
class SimulatorConfig:
    kiosks: int
    gateway_url: str
    registry_url: str
    admin_email: str
    admin_password: str | None
    state_file: Path
    kiosks_per_gym: int = 2
    behaviour: Behaviour = Behaviour()
    connect_concurrency: int = 50

    @property
    def kiosk_socket_url(self) -> str:
        return socket_url(self.gateway_url)


def socket_url(gateway_url: str) -> str:
    """The kiosk socket's full URL, from the gateway's base URL (ws:// or http://) or itself."""
    url = gateway_url.rstrip("/")
    for plain, secure in (("http://", "ws://"), ("https://", "wss://")):
        if url.startswith(plain):
            url = secure + url[len(plain) :]
    return url if url.endswith(KIOSK_SOCKET_PATH) else url + KIOSK_SOCKET_PATH


def data_dir() -> Path:
    return Path(os.environ.get("JARVIS_DEV_DATA_DIR", ".jarvis"))


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"JARVIS_SIMULATOR_{name}", default)


def default_admin_password() -> str | None:
    for variable in (
        "JARVIS_SIMULATOR_ADMIN_PASSWORD",
        "JARVIS_REGISTRY_BOOTSTRAP_ADMIN_PASSWORD",
        "JARVIS_ADMIN_TOKEN",
    ):
        if os.environ.get(variable):
            return os.environ[variable]
    token_file = data_dir() / "admin-token"
    return token_file.read_text().strip() if token_file.exists() else None


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    parser = argparse.ArgumentParser(
        prog="python -m session_gateway.kiosk_simulator",
        description="Simulated kiosks: provision, connect, heartbeat, hold text conversations.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--kiosks", type=int, default=int(_env("KIOSKS", "3") or 3))
    # The dev runner gives its companions every service's URL (JARVIS_DEV_<SERVICE>_URL).
    parser.add_argument(
        "--gateway",
        default=_env("GATEWAY_URL")
        or os.environ.get("JARVIS_DEV_SESSION_GATEWAY_URL", "ws://127.0.0.1:8001"),
        help="gateway base URL (ws:// or http://)",
    )
    parser.add_argument(
        "--registry",
        default=_env("REGISTRY_URL")
        or os.environ.get("JARVIS_DEV_KIOSK_REGISTRY_URL", "http://127.0.0.1:8000"),
        help="registry URL",
    )
    parser.add_argument(
        "--admin-email",
        default=_env("ADMIN_EMAIL")
        or os.environ.get("JARVIS_REGISTRY_BOOTSTRAP_ADMIN_EMAIL", DEV_ADMIN_EMAIL),
        help="a super admin of the registry (provisions the simulated gyms and kiosks)",
    )
    parser.add_argument(
        "--admin-password",
        "--admin-token",
        dest="admin_password",
        default=None,
        help="its password (default: the dev runner's admin token, .jarvis/admin-token)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(_env("STATE_FILE") or data_dir() / "simulator.json"),
        help="where the kiosks' credentials are kept, to reuse them next time",
    )
    # two per gym: the default three kiosks span a French and an English gym, and a gym's
    # default cap of two concurrent sessions is rarely reached
    parser.add_argument("--kiosks-per-gym", type=int, default=2)
    parser.add_argument(
        "--heartbeat-interval", type=float, default=float(_env("HEARTBEAT_INTERVAL_S", "30") or 30)
    )
    parser.add_argument(
        "--conversation-every",
        type=float,
        default=float(_env("CONVERSATION_EVERY_S", "120") or 120),
        help="mean seconds between two conversations of one kiosk; 0 for none",
    )
    parser.add_argument("--think-time", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.kiosks < 1 or args.kiosks_per_gym < 1:
        parser.error("--kiosks and --kiosks-per-gym must be at least 1")
    if args.heartbeat_interval <= 0 or args.conversation_every < 0 or args.think_time < 0:
        parser.error("intervals must be positive")
    password = args.admin_password or default_admin_password()
    return SimulatorConfig(
        kiosks=args.kiosks,
        gateway_url=args.gateway,
        registry_url=args.registry.rstrip("/"),
        admin_email=args.admin_email,
        admin_password=password,
        state_file=args.state,
        kiosks_per_gym=args.kiosks_per_gym,
        behaviour=Behaviour(
            heartbeat_interval_s=args.heartbeat_interval,
            conversation_every_s=args.conversation_every,
            think_time_s=args.think_time,
        ),
    )
