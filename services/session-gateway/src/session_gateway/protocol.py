"""Messages of the kiosk WebSocket protocol (see docs/kiosk-protocol.md).

Every message is a JSON object with a `type`. Kiosk → gateway messages are validated here; a
message that is not valid gets an `error` message back and the connection stays open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class KioskMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Heartbeat(KioskMessage):
    type: Literal["heartbeat"]
    status: Literal["ok", "degraded", "error"] = "ok"
    sent_at: datetime | None = None
    hardware_info: dict[str, Any] = Field(default_factory=dict)
    last_error: str | None = Field(default=None, max_length=2000)


INBOUND: TypeAdapter[Heartbeat] = TypeAdapter(Annotated[Heartbeat, Field(discriminator="type")])
KNOWN_TYPES = frozenset({"heartbeat"})

# Close codes (4000-4999 are the application's own).
CLOSE_UNAUTHORIZED = 4401  # no token, or an invalid or expired one
CLOSE_REVOKED = 4403  # the kiosk was revoked, or the gateway does not know it
MAX_MESSAGE_BYTES = 256 * 1024


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}
