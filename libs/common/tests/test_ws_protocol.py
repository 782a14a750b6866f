"""The WebSocket protocol the services run under uvicorn: when messages pile up faster than the
application reads them (reading pauses past the backlog, then resumes), none is lost or
reordered and the connection does not stall."""

import asyncio
import json

import uvicorn
from websockets.asyncio.client import connect

from jarvis_common.devrun.kafka import free_port
from jarvis_common.testing.waiting import wait_for
from jarvis_common.ws_protocol import MAX_BACKLOG, BackloggedWebSocketProtocol

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
