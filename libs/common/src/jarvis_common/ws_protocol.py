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

Handling a message at once: a relay's hot messages (audio, each way) need not wait for the task
that reads the socket. An application may give the channel an `on_text` handler, which the
protocol calls from its read callback for a text message that arrives while the reading task is
parked on an empty queue, so handling it then cannot overtake an earlier message. The handler
does the whole job synchronously, with `send_now` for what it writes, and returns True; or it
does nothing and returns False, and the message is queued as any other. `FastTextClientConnection`
does the same for a `websockets` client connection (the session gateway's upstream), and
`send_text_now` writes a text message on one without awaiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.protocol import State

log = logging.getLogger(__name__)

MAX_BACKLOG = 16
TEXT_CHANNEL = "jarvis.text_channel"
WRITABLE_CHECK_S = 1.0


class TextChannel(Protocol):
    """An accepted WebSocket, message by message."""

    # Handles a text message at once, from the read callback, if it can (see the module doc).
    on_text: Callable[[str], bool] | None

    async def receive(self) -> str | bytes | None:
        """The next message (text, or bytes for a binary frame); None once the peer is gone."""
        ...

    async def send(self, text: str) -> bool:
        """Send a text message, whole and in call order; False if the socket is gone."""
        ...

    def can_send_now(self) -> bool:
        """Whether send_now would write at once (no sender waiting for the peer)."""
        ...

    def send_now(self, text: str) -> bool:
        """Send without awaiting, when can_send_now() said so; False if the socket is gone."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class BackloggedWebSocketProtocol(WebSocketsSansIOProtocol):
    channel: DirectTextChannel | None = None  # once the application runs

    def send_receive_event_to_app(self) -> None:
        # uvicorn pauses reading after queueing the message unless `read_paused` says reading
        # is paused already: say so while there is room. receive() resumes reading once the
        # queue is empty, which is a no-op for a transport that never paused.
        room = self.queue.qsize() + 1 < MAX_BACKLOG
        self.read_paused = room or not self.transport.is_reading()
        super().send_receive_event_to_app()

    async def run_asgi(self) -> None:
        self.channel = DirectTextChannel(self)
        self.scope["extensions"][TEXT_CHANNEL] = self.channel
        await super().run_asgi()

    def handle_text(self, event: Frame) -> None:
        channel = self.channel
        if event.fin and channel is not None and channel.takes_now() and not self.close_sent:
            try:
                if channel.handle_now(event.data.decode()):
                    return
            except UnicodeDecodeError:
                pass  # uvicorn closes the connection with 1007
        super().handle_text(event)


class DirectTextChannel:
    """The protocol's own queue for receiving; sending frames the text and writes it at once
    (the write is whole, so concurrent senders cannot interleave a frame)."""

    __slots__ = ("_gone", "_lock", "_protocol", "_reading", "_waiting", "on_text")

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._gone = False
        self._reading = False
        self.on_text: Callable[[str], bool] | None = None

    def takes_now(self) -> bool:
        """The reading task is parked on an empty queue: every earlier message is handled."""
        return self._reading and self.on_text is not None and self._protocol.queue.empty()

    def handle_now(self, text: str) -> bool:
        assert self.on_text is not None
        try:
            return self.on_text(text)
        except Exception:
            _handler_failed(self)
            return False

    async def receive(self) -> str | bytes | None:
        if self._gone:
            return None  # nothing follows websocket.disconnect: the queue would wait forever
        self._reading = True
        try:
            message = await self._protocol.receive()
        finally:
            self._reading = False
        data = _received(message)
        self._gone = data is None
        return data

    async def send(self, text: str) -> bool:
        protocol = self._protocol
        if self._waiting or not protocol.writable.is_set():
            # The peer reads slower than we write (the transport paused writing): wait for it,
            # in call order, behind any sender already waiting.
            self._waiting += 1
            try:
                async with self._lock:
                    return await self._until_writable() and self._write(text)
            finally:
                self._waiting -= 1
        return self._write(text)

    async def _until_writable(self) -> bool:
        # A closing transport whose peer reads nothing would never drain (nor report the
        # connection lost): give up on it rather than wait forever.
        protocol = self._protocol
        while not protocol.writable.is_set():
            if protocol.disconnected or protocol.transport.is_closing():
                protocol.transport.abort()
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(protocol.writable.wait(), WRITABLE_CHECK_S)
        return True

    def can_send_now(self) -> bool:
        return not self._waiting and self._protocol.writable.is_set()

    def send_now(self, text: str) -> bool:
        return self._write(text)

    def _write(self, text: str) -> bool:
        protocol = self._protocol
        if protocol.disconnected or protocol.close_sent or protocol.transport.is_closing():
            return False
        try:
            protocol.conn.send_text(text.encode())
        except (InvalidState, UnicodeEncodeError):  # closed; or a lone surrogate: not UTF-8
            return False
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        async with self._lock:  # after the senders waiting for the peer
            with contextlib.suppress(ClientDisconnected):
                await self._protocol.send(
                    {"type": "websocket.close", "code": code, "reason": reason}
                )


def _received(message: dict[str, Any]) -> str | bytes | None:
    """A received ASGI message's text or bytes; None for websocket.disconnect."""
    if message["type"] != "websocket.receive":
        return None
    text = message.get("text")
    return text if text is not None else message.get("bytes", b"")


class AsgiTextChannel:
    """The same channel over Starlette's WebSocket, for any ASGI server."""

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        self._lock = asyncio.Lock()
        self.on_text: Callable[[str], bool] | None = None  # never called: no read callback here

    async def receive(self) -> str | bytes | None:
        try:
            message = await self._ws.receive()
        except RuntimeError:  # already disconnected
            return None
        return _received(message)

    async def send(self, text: str) -> bool:
        async with self._lock:  # servers may await mid-send (flow control)
            try:
                await self._ws.send_text(text)
                return True
            except (RuntimeError, OSError, WebSocketDisconnect):  # uvicorn's is an OSError
                return False

    def can_send_now(self) -> bool:
        return False

    def send_now(self, text: str) -> bool:
        raise RuntimeError("an ASGI channel sends only by awaiting send()")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await self._ws.close(code, reason)


class FastTextClientConnection(ClientConnection):
    """A `websockets` client connection whose `on_text` handler (bytes of a text message) may
    take a message in the read callback while the reading task waits on an empty queue."""

    on_text: Callable[[bytes], bool] | None = None

    def process_event(self, event: Any) -> None:
        on_text = self.on_text
        if on_text is not None and event.opcode is Opcode.TEXT and event.fin:
            frames = self.recv_messages.frames  # the reader parked, nothing waiting for it
            if frames.get_waiter is not None and not frames.get_waiter.done() and not frames:
                try:
                    if on_text(event.data):
                        return
                except Exception:
                    _handler_failed(self)
        super().process_event(event)


def _handler_failed(owner: DirectTextChannel | FastTextClientConnection) -> None:
    """An on_text handler raised. It must not have changed anything before raising (its own
    errors after that it handles), so the message is queued; and the fast path is off for this
    socket from now on, rather than failing (and logging) ten times a second."""
    log.exception("a WebSocket's on_text handler failed: the reader takes its messages now")
    owner.on_text = None


def can_send_text_now(conn: Connection) -> bool:
    """Whether `send_text_now` can write on this `websockets` connection without awaiting: it
    is open, no fragmented message is being sent, and the transport is not pushing back."""
    return (
        conn.protocol.state is State.OPEN
        and not conn.paused
        and conn.fragmented_send_waiter is None
    )


def send_text_now(conn: Connection, text: str) -> bool:
    """One text frame, written at once, when `can_send_text_now` said so (what `send()` does
    between its checks). False if it could not be sent; a broken socket is left to the reader,
    which sees it closed."""
    try:
        conn.protocol.send_text(text.encode())
        conn.send_data()
    except (OSError, InvalidState, UnicodeEncodeError):
        return False
    return True


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
