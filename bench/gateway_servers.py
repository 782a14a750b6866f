"""The bare servers the gateway benchmark measures the gateway against, each its own process:

- `idle`: a bare `websockets` server that holds kiosk connections: it welcomes each one and acks
  its heartbeats (what the gateway does for an idle kiosk, minus authentication and the outbox);
- `relay`: a bare two-hop relay: for each client connection it opens one to the upstream (same
  path and query) and forwards every message both ways, untouched;
- `upstream`: a minimal Realtime-like upstream: `session.created` on connect, `session.updated`
  for each `session.update`, and for each `input_audio_buffer.append` at once a
  `response.output_audio.delta` carrying the same audio (item id fixed per session).

`python -m bench.gateway_servers <kind> --port P [--upstream ws://...]`; prints `ready` once
listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import uuid
from typing import Any

from websockets import ConnectionClosed
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

ACK = json.dumps({"type": "heartbeat.ack"})


async def idle_handler(ws: ServerConnection) -> None:
    await ws.send(json.dumps({"type": "welcome", "kiosk_id": "bare", "config_version": 1}))
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            if json.loads(raw).get("type") == "heartbeat":
                await ws.send(ACK)


def relay_handler(upstream: str):  # type: ignore[no-untyped-def]
    async def handle(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        headers = {}
        if ws.request is not None and "authorization" in ws.request.headers:
            headers["Authorization"] = ws.request.headers["authorization"]
        async with connect(
            upstream + path, additional_headers=headers, max_size=2**22, compression=None
        ) as up:

            async def pump(source: Any, target: Any) -> None:
                with contextlib.suppress(ConnectionClosed):
                    async for message in source:
                        await target.send(message)

            down_task = asyncio.create_task(pump(up, ws))
            try:
                await pump(ws, up)
            finally:
                down_task.cancel()

    return handle


def _session() -> dict[str, Any]:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": f"sess_{uuid.uuid4().hex[:20]}",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000}, "turn_detection": None},
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
        },
    }


async def upstream_handler(ws: ServerConnection) -> None:
    session = _session()
    item_id = f"item_{uuid.uuid4().hex[:20]}"
    response_id = f"resp_{uuid.uuid4().hex[:20]}"
    counter = 0

    def event_id() -> str:
        nonlocal counter
        counter += 1
        return f"event_{counter}"

    await ws.send(
        json.dumps({"type": "session.created", "event_id": event_id(), "session": session})
    )
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            event = json.loads(raw)
            kind = event.get("type")
            if kind == "input_audio_buffer.append":
                reply = {  # in the API's order: event_id first
                    "event_id": event_id(),
                    "type": "response.output_audio.delta",
                    "response_id": response_id,
                    "item_id": item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": event.get("audio", ""),
                }
                await ws.send(json.dumps(reply))
            elif kind == "session.update":
                session.update(event.get("session") or {})
                await ws.send(
                    json.dumps(
                        {"type": "session.updated", "event_id": event_id(), "session": session}
                    )
                )


async def main_async(args: argparse.Namespace) -> None:
    handler: Any
    if args.kind == "idle":
        handler = idle_handler
    elif args.kind == "relay":
        handler = relay_handler(args.upstream.rstrip("/"))
    else:
        handler = upstream_handler
    async with serve(
        handler, "127.0.0.1", args.port, max_size=2**22, backlog=4096, compression=None
    ):
        print("ready", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_servers")
    parser.add_argument("kind", choices=["idle", "relay", "upstream"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", default="ws://127.0.0.1:9999", help="for the relay")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
