"""The registry's API as a kiosk (claim, access tokens) and as the admin who sets kiosks up
(gym, kiosk, provisioning code): the path docs/kiosk-provisioning.md describes, nothing else."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

TOKEN_REFRESH_SHARE = 0.75  # ask for a new access token after 3/4 of its lifetime


class RegistryError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"registry answered {status} {code}: {message}")
        self.status, self.code = status, code


class CredentialRejected(RegistryError):
    """401 on a token request: the kiosk has lost its identity and must be provisioned again."""


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = str(error.get("code", "http_error"))
    message = str(error.get("message", response.text[:300]))
    raise RegistryError(response.status_code, code, message)


@dataclass(frozen=True)
class Claimed:
    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    credential: str


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


class RegistryClient:
    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/api/v1", timeout=timeout_s)
        self._admin: dict[str, str] = {}

    async def close(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self._http.post(path, json=body, headers=self._admin)
        _raise_for(response)
        result: dict[str, Any] = response.json()
        return result

    # --- as the admin setting kiosks up ---------------------------------------------------

    async def login(self, email: str, password: str) -> None:
        answer = await self._post("/auth/login", {"email": email, "password": password})
        self._admin = {"authorization": f"Bearer {answer['access_token']}"}

    async def create_gym(self, name: str, language: str, info: dict[str, Any]) -> uuid.UUID:
        gym = await self._post("/gyms", {"name": name, "language": language, "info": info})
        return uuid.UUID(gym["id"])

    async def create_kiosk(self, gym_id: uuid.UUID, name: str) -> uuid.UUID:
        kiosk = await self._post(f"/gyms/{gym_id}/kiosks", {"name": name})
        return uuid.UUID(kiosk["id"])

    async def provisioning_code(self, kiosk_id: uuid.UUID) -> str:
        return str((await self._post(f"/kiosks/{kiosk_id}/provisioning-code"))["code"])

    # --- as a kiosk -------------------------------------------------------------------------

    async def claim(self, code: str, device_id: str, hardware_info: dict[str, Any]) -> Claimed:
        response = await self._http.post(
            "/provisioning/claim",
            json={"code": code, "device_id": device_id, "hardware_info": hardware_info},
        )
        _raise_for(response)
        body = response.json()
        return Claimed(uuid.UUID(body["kiosk_id"]), uuid.UUID(body["gym_id"]), body["credential"])

    async def access_token(self, credential: str) -> AccessToken:
        response = await self._http.post("/kiosk-auth/token", json={"credential": credential})
        if response.status_code == 401:
            raise CredentialRejected(401, "invalid_kiosk_credential", "credential refused")
        _raise_for(response)
        body = response.json()
        return AccessToken(body["access_token"], int(body["expires_in"]))


class KioskTokens:
    """A kiosk's access token, asked for again once 3/4 of its lifetime has passed (or at once
    after `invalidate`, when the gateway refused it)."""

    def __init__(self, registry: RegistryClient, credential: str) -> None:
        self._registry = registry
        self._credential = credential
        self._token: str | None = None
        self._refresh_at = 0.0

    async def get(self) -> str:
        if self._token is None or time.monotonic() >= self._refresh_at:
            issued = await self._registry.access_token(self._credential)
            self._token = issued.token
            self._refresh_at = time.monotonic() + issued.expires_in * TOKEN_REFRESH_SHARE
        return self._token

    def invalidate(self) -> None:
        self._token = None
