"""The state file: the kiosks the simulator provisioned, with their credentials, so that the
next run reuses them instead of filling the registry with new ones.

It holds secrets (kiosk credentials), so it is written owner-only, atomically.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class KioskIdentity:
    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    credential: str
    device_id: str
    language: str
    name: str

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> KioskIdentity:
        return cls(
            kiosk_id=uuid.UUID(data["kiosk_id"]),
            gym_id=uuid.UUID(data["gym_id"]),
            credential=data["credential"],
            device_id=data["device_id"],
            language=data.get("language", "fr"),
            name=data.get("name", "Kiosk"),
        )


def load(path: Path, registry_url: str) -> list[KioskIdentity]:
    """The kiosks provisioned before on this registry (none if the file is for another one)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise ValueError(f"{path} is not a simulator state file: {exc}") from exc
    if data.get("registry") != registry_url:
        return []
    return [KioskIdentity.from_json(k) for k in data.get("kiosks", [])]


def save(path: Path, registry_url: str, kiosks: list[KioskIdentity]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"registry": registry_url, "kiosks": [k.to_json() for k in kiosks]}, indent=2)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(body + "\n")
    os.replace(tmp, path)
