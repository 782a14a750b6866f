"""uvicorn's WebSocket protocol (websockets' sans-I/O implementation) as the services run it, and
the text channel an application talks to a WebSocket through once it has accepted it.

Reading on while the application keeps up: uvicorn stops reading a connection after every
message until the application has taken it, then starts again: two epoll changes per message. A
kiosk streams ten audio messages a second, and that pause and resume was about 6% of the session
gateway's CPU when relaying audio. Here reading pauses only once `MAX_BACKLOG` messages wait for
the application, which still bounds what one connection can queue.

The text channel: through ASGI, every message sent is a dict passed down the middleware stack's
send wrappers (Starlette's and FastAPI's exception handlers, each a coroutine call) to uvicorn,
and every message received goes through Starlette's state checks. For a socket that relays audio
both ways ten times a second that was about a tenth of the gateway's CPU. Under this protocol
the application gets a channel (the ASGI scope's `TEXT_CHANNEL` extension) that frames text
straight onto the transport. `text_channel()` returns it, or, under any other server, the same
interface over Starlette's WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

MAX_BACKLOG = 16
TEXT_CHANNEL = "jarvis.text_channel"


class TextChannel(Protocol):
    """An accepted WebSocket, message by message."""

    async def receive(self) -> str | bytes | None:
        """The next message (text, or bytes for a binary frame); None once the peer is gone."""
        ...

    async def send(self, text: str) -> bool:
        """Send a text message, whole and in call order; False if the socket is gone."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class BackloggedWebSocketProtocol(WebSocketsSansIOProtocol):
    def send_receive_event_to_app(self) -> None:
        # uvicorn pauses reading after queueing the message unless `read_paused` says reading
        # is paused already: say so while there is room. receive() resumes reading once the
        # queue is empty, which is a no-op for a transport that never paused.
        room = self.queue.qsize() + 1 < MAX_BACKLOG
        self.read_paused = room or not self.transport.is_reading()
        super().send_receive_event_to_app()

    async def run_asgi(self) -> None:
        self.scope["extensions"][TEXT_CHANNEL] = DirectTextChannel(self)
        await super().run_asgi()


class DirectTextChannel:
    """The protocol's own queue for receiving; sending frames the text and writes it at once
    (the write is whole, so concurrent senders cannot interleave a frame)."""

    __slots__ = ("_gone", "_lock", "_protocol", "_waiting")

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._gone = False

    async def receive(self) -> str | bytes | None:
        if self._gone:
            return None  # nothing follows websocket.disconnect: the queue would wait forever
        message = await self._protocol.receive()
        if message["type"] != "websocket.receive":
            self._gone = True
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes", b"")

    async def send(self, text: str) -> bool:
        protocol = self._protocol
        if self._waiting or not protocol.writable.is_set():
            # The peer reads slower than we write (the transport paused writing): wait for it,
            # in call order, behind any sender already waiting.
            self._waiting += 1
            try:
                async with self._lock:
                    await protocol.writable.wait()
                    return self._write(text)
            finally:
                self._waiting -= 1
        return self._write(text)

    def _write(self, text: str) -> bool:
        protocol = self._protocol
        if protocol.disconnected or protocol.close_sent or protocol.transport.is_closing():
            return False
        try:
            protocol.conn.send_text(text.encode())
        except InvalidState:
            return False
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(ClientDisconnected):
            await self._protocol.send({"type": "websocket.close", "code": code, "reason": reason})


class AsgiTextChannel:
    """The same channel over Starlette's WebSocket, for any ASGI server."""

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        self._lock = asyncio.Lock()

    async def receive(self) -> str | bytes | None:
        try:
            message = await self._ws.receive()
        except RuntimeError:  # already disconnected
            return None
        if message["type"] != "websocket.receive":
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes", b"")

    async def send(self, text: str) -> bool:
        async with self._lock:  # servers may await mid-send (flow control)
            try:
                await self._ws.send_text(text)
                return True
            except (RuntimeError, OSError, WebSocketDisconnect):  # uvicorn's is an OSError
                return False

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await self._ws.close(code, reason)


# How the services serve WebSockets under uvicorn (the runner, and tests that serve an app).
UVICORN_OPTIONS: dict[str, Any] = {
    "ws": BackloggedWebSocketProtocol,
    # Kiosk audio is base64 PCM: compressing it costs latency and CPU and saves little.
    "ws_per_message_deflate": False,
}


def text_channel(ws: WebSocket) -> TextChannel:
    """The channel for `ws`, which the application has accepted; from then on it talks to the
    socket only through the channel."""
    extensions: dict[str, Any] = ws.scope.get("extensions") or {}
    direct: TextChannel | None = extensions.get(TEXT_CHANNEL)
    return direct if direct is not None else AsgiTextChannel(ws)
