"""One kiosk's WebSocket to the gateway (docs/kiosk-protocol.md), as a kiosk holds it.

Opening it waits for the gateway's `welcome`; a refused connection raises `GatewayRefused`. A
reader task takes every incoming message: heartbeat acks are counted, everything else (session
messages, errors) is queued on `messages` in order, and `None` is queued when the connection ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from websockets import ConnectionClosed, InvalidStatus
from websockets.asyncio.client import ClientConnection, connect

CLOSE_UNAUTHORIZED = 4401
CLOSE_REVOKED = 4403


class GatewayRefused(Exception):
    """The gateway did not let the kiosk in: a close code (4401 token, 4403 unknown or revoked
    kiosk) or, when it refused during the handshake, the HTTP status (403)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"the gateway refused the kiosk ({code}{': ' + reason if reason else ''})")
        self.code = code


class KioskConnection:
    def __init__(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.kiosk_id = str(welcome.get("kiosk_id"))
        self.messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.heartbeat_acks = 0
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._reader = asyncio.create_task(self._read(), name=f"kiosk-{self.kiosk_id}-reader")

    @classmethod
    async def open(
        cls, url: str, token: str, *, open_timeout_s: float = 10.0, ping_interval_s: float = 20.0
    ) -> KioskConnection:
        try:
            ws = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=open_timeout_s,
                ping_interval=ping_interval_s,
                max_size=2**20,
                # No permessage-deflate: base64 audio barely compresses, and each compressed
                # connection costs both ends a zlib context (hundreds of KB on the gateway).
                compression=None,
            )
        except InvalidStatus as exc:
            raise GatewayRefused(exc.response.status_code, "refused during the handshake") from exc
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), open_timeout_s))
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else 1006
            raise GatewayRefused(code, exc.rcvd.reason if exc.rcvd else "") from exc
        except BaseException:
            await ws.close()
            raise
        if first.get("type") != "welcome":
            await ws.close()
            raise GatewayRefused(1002, f"expected welcome, got {first.get('type')!r}")
        return cls(ws, first)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "heartbeat.ack":
                    self.heartbeat_acks += 1
                else:
                    self.messages.put_nowait(message)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.messages.put_nowait(None)
            self.closed.set()

    async def send(self, message: dict[str, Any]) -> None:
        """Send one message; raises websockets.ConnectionClosed if the connection is gone."""
        await self.ws.send(json.dumps(message))

    async def heartbeat(
        self, hardware_info: dict[str, Any], status: str = "ok", last_error: str | None = None
    ) -> None:
        beat: dict[str, Any] = {
            "type": "heartbeat",
            "status": status,
            "sent_at": datetime.now(UTC).isoformat(),
            "hardware_info": hardware_info,
        }
        if last_error is not None:
            beat["last_error"] = last_error
        await self.send(beat)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
