"""The WebSocket protocol the services run under uvicorn: when messages pile up faster than the
application reads them (reading pauses past the backlog, then resumes), none is lost or
reordered and the connection does not stall. The text channel behaves the same under it (direct)
and under uvicorn's own protocol (over Starlette): messages both ways, binary frames, the peer
leaving, and sends that outrun a peer that does not read."""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from jarvis_common.devrun.kafka import free_port
from jarvis_common.testing.waiting import wait_for
from jarvis_common.ws_protocol import (
    MAX_BACKLOG,
    AsgiTextChannel,
    BackloggedWebSocketProtocol,
    DirectTextChannel,
    TextChannel,
    text_channel,
)

MESSAGES = MAX_BACKLOG * 20


async def slow_reader(scope, receive, send) -> None:
    """Accepts, lets messages pile up, then reads them all and answers with what it got."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await asyncio.sleep(0.5)
    got = []
    while len(got) < MESSAGES:
        message = await receive()
        got.append(int(message["text"]))
    await send({"type": "websocket.send", "text": json.dumps(got)})
    await receive()  # the client's close


async def test_messages_piling_up_all_arrive_in_order() -> None:
    port = free_port()
    config = uvicorn.Config(
        slow_reader, port=port, ws=BackloggedWebSocketProtocol, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started, message="server started")
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            for i in range(MESSAGES):
                await ws.send(str(i))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert answer == list(range(MESSAGES))
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def served(app: Any, ws: Any, **options: Any) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(app, port=port, ws=ws, log_config=None, lifespan="off", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started, message="server started")
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


PROTOCOLS = pytest.mark.parametrize(
    ("ws", "expected"),
    [(BackloggedWebSocketProtocol, DirectTextChannel), ("websockets-sansio", AsgiTextChannel)],
    ids=["direct", "over-starlette"],
)


class ChannelApp:
    """Echoes each message as `text:<it>` or `bytes:<length>`; `burst N` answers with N numbered
    512 KB messages sent concurrently; records what the channel did once the peer left."""

    def __init__(self) -> None:
        self.channels: list[TextChannel] = []
        self.after_leaving: list[Any] = []
        self.sends_started = 0
        self.sent: list[bool] = []  # what each send of a burst returned
        self.burst_sent = False
        self.app = Starlette(routes=[WebSocketRoute("/", self.socket)])

    async def _send(self, channel: TextChannel, text: str) -> None:
        self.sends_started += 1
        self.sent.append(await channel.send(text))

    async def socket(self, ws: WebSocket) -> None:
        await ws.accept()
        channel = text_channel(ws)
        self.channels.append(channel)
        while (message := await channel.receive()) is not None:
            if isinstance(message, bytes):
                await channel.send(f"bytes:{len(message)}")
            elif message.startswith("burst "):
                filler = "x" * 512_000
                count = int(message.split()[1])
                await asyncio.gather(*(self._send(channel, f"{i} {filler}") for i in range(count)))
                self.burst_sent = True
            else:
                await channel.send(f"text:{message}")
        self.after_leaving += [await channel.receive(), await channel.send("too late")]


@PROTOCOLS
async def test_the_text_channel_carries_messages_both_ways_until_the_peer_leaves(
    ws: Any, expected: type
) -> None:
    app = ChannelApp()
    async with served(app.app, ws) as url:
        async with connect(url) as client:
            await client.send("hello")
            assert await asyncio.wait_for(client.recv(), 10) == "text:hello"
            await client.send(b"\x00\x01\x02")
            assert await asyncio.wait_for(client.recv(), 10) == "bytes:3"
        await wait_for(lambda: len(app.after_leaving) == 2, message="the app saw the peer leave")
    assert isinstance(app.channels[0], expected)
    assert app.after_leaving == [None, False]


@PROTOCOLS
async def test_sends_outrunning_a_peer_that_does_not_read_arrive_whole_and_in_order(
    ws: Any, expected: type
) -> None:
    app = ChannelApp()
    count = 20  # 10 MB: far more than the socket buffers hold, so senders wait for the peer
    async with served(app.app, ws) as url:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)  # no autotuning to 32 MB
        sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/"))))
        sock.setblocking(False)
        async with connect(url, sock=sock, max_size=2**20, compression=None) as client:
            client.transport.pause_reading()  # a peer that reads nothing for now
            await client.send(f"burst {count}")
            await wait_for(lambda: app.sends_started == count, message="every send started")
            assert not app.burst_sent  # they wait for the peer
            client.transport.resume_reading()
            got = [await asyncio.wait_for(client.recv(), 10) for _ in range(count)]
    numbers = [int(str(message).split()[0]) for message in got]
    assert isinstance(app.channels[0], expected)
    assert numbers == list(range(count))
    assert all(len(str(message).split()[1]) == 512_000 for message in got)  # whole
    assert app.sent == [True] * count


async def test_an_on_text_handler_that_fails_leaves_its_messages_to_the_reader() -> None:
    """A failing read-callback handler loses nothing: the message goes to the reading task,
    and so do the next ones (the handler is not called again)."""
    calls: list[str] = []
    received: list[str | bytes] = []

    def failing(text: str) -> bool:
        calls.append(text)
        raise ValueError("a bug in the fast path")

    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        channel = text_channel(ws)
        channel.on_text = failing
        while (message := await channel.receive()) is not None:
            received.append(message)
            await channel.send(f"got {message}")

    app = Starlette(routes=[WebSocketRoute("/", socket)])
    async with served(app, BackloggedWebSocketProtocol) as url:
        async with connect(url) as client:
            for word in ("one", "two", "three"):
                await client.send(word)
                assert await asyncio.wait_for(client.recv(), 10) == f"got {word}"
    assert received == ["one", "two", "three"]
    assert calls == ["one"]


async def test_an_on_text_handler_takes_messages_while_the_reader_waits() -> None:
    taken: list[str] = []

    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        channel = text_channel(ws)

        def take(text: str) -> bool:
            if not text.startswith("fast"):
                return False
            taken.append(text)
            return channel.can_send_now() and channel.send_now(f"took {text}")

        channel.on_text = take
        while (message := await channel.receive()) is not None:
            await channel.send(f"read {message}")

    app = Starlette(routes=[WebSocketRoute("/", socket)])
    async with served(app, BackloggedWebSocketProtocol) as url:
        async with connect(url) as client:
            answers = []
            for word in ("fast 1", "slow 2", "fast 3"):
                await client.send(word)
                answers.append(await asyncio.wait_for(client.recv(), 10))
    assert answers == ["took fast 1", "read slow 2", "took fast 3"]
    assert taken == ["fast 1", "fast 3"]


async def test_senders_waiting_for_a_peer_that_never_reads_give_up_once_the_socket_closes() -> None:
    """The peer stops reading and stops answering pings: uvicorn closes the transport, which
    can never drain. The senders waiting for it return False instead of waiting forever."""
    app = ChannelApp()
    count = 20
    async with served(
        app.app, BackloggedWebSocketProtocol, ws_ping_interval=0.2, ws_ping_timeout=0.2
    ) as url:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)
        sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/"))))
        sock.setblocking(False)
        async with connect(url, sock=sock, max_size=2**20, compression=None) as client:
            client.transport.pause_reading()  # and never again: no pong either
            await client.send(f"burst {count}")
            await wait_for(lambda: app.burst_sent, timeout=15, message="every send returned")
            client.transport.abort()
    assert len(app.sent) == count
    assert app.sent[0] and not app.sent[-1]  # the first went out; the waiting ones gave up
