"""The simulated fleet: kiosks reused from the state file or provisioned through the registry's
API (gym, kiosk, provisioning code, claim), then run side by side until told to stop."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from session_gateway.kiosk_simulator import questions, state
from session_gateway.kiosk_simulator.config import SimulatorConfig
from session_gateway.kiosk_simulator.registry_client import (
    CredentialRejected,
    KioskTokens,
    RegistryClient,
    RegistryError,
)
from session_gateway.kiosk_simulator.simulated_kiosk import SimulatedKiosk
from session_gateway.kiosk_simulator.state import KioskIdentity

log = logging.getLogger("kiosk_simulator")
T = TypeVar("T")
REGISTRY_WAIT_S = 60.0  # the platform may still be starting (or creating its first admin)


class SetupFailed(Exception):
    """The simulator cannot get its kiosks: a message for the operator."""


class Fleet:
    def __init__(self, config: SimulatorConfig, registry: RegistryClient | None = None) -> None:
        self.config = config
        self.registry = registry or RegistryClient(config.registry_url)
        self.kiosks: list[SimulatedKiosk] = []
        self.identities: list[KioskIdentity] = []
        self._logged_in = False

    async def prepare(self) -> list[KioskIdentity]:
        """N kiosk identities: those of the state file that still work, then new ones."""
        kept = []
        for identity in state.load(self.config.state_file, self.config.registry_url):
            if len(kept) == self.config.kiosks:
                break
            try:
                await self._with_registry(self.registry.access_token, identity.credential)
                kept.append(identity)
            except CredentialRejected:
                log.warning("%s: its credential is refused (revoked?); replacing it", identity.name)
        self.identities = list(kept)
        missing = self.config.kiosks - len(kept)
        if missing:
            await self._provision(missing)
        log.info(
            "%d kiosks ready (%d reused, %d provisioned); state in %s",
            len(self.identities),
            len(kept),
            missing,
            self.config.state_file,
        )
        return self.identities

    async def _with_registry(self, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Retry while the registry is not reachable yet, up to REGISTRY_WAIT_S."""
        deadline = time.monotonic() + REGISTRY_WAIT_S
        while True:
            try:
                return await call(*args)
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise SetupFailed(
                        f"the registry at {self.config.registry_url} is not reachable: {exc}"
                    ) from exc
                await asyncio.sleep(1.0)

    async def _login(self) -> None:
        if self._logged_in:
            return
        if not self.config.admin_password:
            raise SetupFailed(
                "no admin password to provision kiosks with: pass --admin-password, set "
                "JARVIS_SIMULATOR_ADMIN_PASSWORD, or start the platform with `make run` first"
            )
        deadline = time.monotonic() + REGISTRY_WAIT_S
        while True:
            try:
                await self._with_registry(
                    self.registry.login, self.config.admin_email, self.config.admin_password
                )
                self._logged_in = True
                return
            except RegistryError as exc:
                # The registry creates its bootstrap admin just after it starts.
                if exc.status != 401 or time.monotonic() > deadline:
                    raise SetupFailed(f"cannot log in as {self.config.admin_email}: {exc}") from exc
                await asyncio.sleep(1.0)

    async def _provision(self, count: int) -> None:
        await self._login()
        per_gym = self.config.kiosks_per_gym
        gym_id, language, in_gym = uuid.UUID(int=0), "fr", per_gym
        suffix = uuid.uuid4().hex[:4]
        for i in range(count):
            if in_gym == per_gym:
                language = ("fr", "en")[(len(self.identities) // per_gym) % 2]
                gym = questions.GYMS[language]
                gym_id = await self.registry.create_gym(
                    f"{gym['name']} {suffix}-{i // per_gym + 1}", language, gym["info"]
                )
                in_gym = 0
            in_gym += 1
            name = f"simulated kiosk {suffix}-{len(self.identities) + 1}"
            kiosk_id = await self.registry.create_kiosk(gym_id, name)
            code = await self.registry.provisioning_code(kiosk_id)
            device_id = f"sim-{uuid.uuid4().hex[:12]}"
            claimed = await self.registry.claim(
                code, device_id, questions.hardware_info(device_id, 0, random.Random(i))
            )
            self.identities.append(
                KioskIdentity(
                    claimed.kiosk_id, claimed.gym_id, claimed.credential, device_id, language, name
                )
            )
            # Saved at once: a credential is shown once, and a crash must not lose it.
            state.save(self.config.state_file, self.config.registry_url, self.identities)

    async def run(self, stop: asyncio.Event) -> None:
        """Prepare the kiosks, run them until `stop` is set, then stop them gracefully."""
        try:
            await self.prepare()
            self.kiosks = [
                SimulatedKiosk(
                    identity,
                    KioskTokens(self.registry, identity.credential),
                    self.config.kiosk_socket_url,
                    self.config.behaviour,
                )
                for identity in self.identities
            ]
            runs = [asyncio.create_task(self._run_one(k, i)) for i, k in enumerate(self.kiosks)]
            await stop.wait()
            for kiosk in self.kiosks:
                kiosk.stop()
            await asyncio.gather(*runs, return_exceptions=True)
        finally:
            await self.registry.close()

    async def _run_one(self, kiosk: SimulatedKiosk, index: int) -> None:
        # Kiosks do not all connect in the same instant (a fleet boots over minutes).
        await asyncio.sleep(index / self.config.connect_concurrency)
        await kiosk.run()
