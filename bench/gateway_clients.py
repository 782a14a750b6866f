"""The gateway benchmark's kiosk clients, run as processes of their own so that their memory and
CPU are not the server's. Each prints JSON lines on stdout.

- `idle`: N kiosks (one access token per line of `--tokens`) connect with the simulator's
  `KioskConnection`, `--concurrency` at a time, and heartbeat every `--interval` seconds (the first
  beat spread over the first interval). Prints `{"event": "connected", ...}` once all are in, then
  holds them until stdin closes, then prints `{"event": "stopped", ...}`.
- `stream`: S sessions each send a 100 ms chunk of audio (4,800 bytes of PCM16, base64) every
  100 ms, the chunks' first 6 bytes carrying (session, chunk number) so that each echo is matched
  to its chunk; prints the round-trip times measured after `--warmup`. `--mode direct|relay`
  speaks the Realtime protocol (`input_audio_buffer.append` -> `response.output_audio.delta`);
  `--mode gateway` speaks the kiosk protocol (`session.start`, `audio.append` ->
  `response.audio.delta`, and an `ack` of what it received once a second, as a kiosk should).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import random
import resource
import struct
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from websockets import ConnectionClosed
from websockets.asyncio.client import ClientConnection, connect

from session_gateway.kiosk_simulator.kiosk_connection import GatewayRefused, KioskConnection

CHUNK_S = 0.1
ACK_EVERY = 10  # chunks: once a second
CHUNK_BYTES = 4800  # 100 ms of PCM16 mono at 24 kHz
HEADER = struct.Struct("<HI")  # session, chunk: 6 bytes, i.e. the first 8 base64 characters
PROBE = 2**32 - 1  # the chunk number of the one chunk each session sends before the run
SETUP_TIMEOUT_S = 30.0


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- idle kiosks -----------------------------------------------------------------------------


HARDWARE = {"model": "JARVIS Kiosk K2", "os": "Raspberry Pi OS 12", "app_version": "1.8.3"}


async def heartbeat_forever(conn: KioskConnection, interval: float, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, interval))
    with contextlib.suppress(ConnectionClosed):
        while True:
            await conn.heartbeat({**HARDWARE, "cpu_temp_c": rng.randint(40, 60)})
            await asyncio.sleep(interval)


async def idle(args: argparse.Namespace, tokens: list[str]) -> None:
    rng = random.Random(7)
    gate = asyncio.Semaphore(args.concurrency)
    conns: list[KioskConnection] = []
    failures: Counter[str] = Counter()

    async def open_one(token: str) -> None:
        async with gate:
            for _ in range(3):
                try:
                    conn = await KioskConnection.open(args.url, token, ping_interval_s=None)
                except (GatewayRefused, OSError, TimeoutError) as exc:
                    failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                    await asyncio.sleep(0.5)
                    continue
                conns.append(conn)
                beats.append(asyncio.create_task(heartbeat_forever(conn, args.interval, rng)))
                return

    beats: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    opening = [asyncio.create_task(open_one(t)) for t in tokens]
    _, late = await asyncio.wait(opening, timeout=args.deadline)
    for task in late:  # what the server could not take in time is reported, not waited for
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    emit(
        event="connected",
        connected=len(conns),
        wanted=len(tokens),
        not_in_time=len(late),
        seconds=round(time.perf_counter() - started, 1),
        failures=dict(failures.most_common(5)),
    )
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    still_open = sum(1 for c in conns if not c.closed.is_set())
    acks = sum(c.heartbeat_acks for c in conns)
    for task in beats:
        task.cancel()
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    emit(event="stopped", still_open=still_open, heartbeat_acks=acks)


# --- streaming sessions ----------------------------------------------------------------------


def audio_tail() -> str:
    """The chunk after its 6-byte header: a 440 Hz tone, base64 (4,794 bytes = 1,598 x 3)."""
    samples = [int(8000 * math.sin(2 * math.pi * 440 * i / 24000)) for i in range(CHUNK_BYTES // 2)]
    pcm = struct.pack(f"<{len(samples)}h", *samples)[HEADER.size :]
    return base64.b64encode(pcm).decode()


class Stream:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.gateway = args.mode == "gateway"
        kind = "audio.append" if self.gateway else "input_audio_buffer.append"
        self.prefix = '{"type": "' + kind + '", "audio": "'
        self.suffix = audio_tail() + '"}'
        self.echo_type = "response.audio.delta" if self.gateway else "response.output_audio.delta"
        self.echo_field = "audio" if self.gateway else "delta"
        self.rtts: list[float] = []
        self.sent_measured = 0
        self.errors: Counter[str] = Counter()
        self.setup_s: list[float] = []
        self.t0 = 0.0
        self.measure_from = 0.0
        self.stop_at = 0.0
        self.client_cores_busy = 0.0

    def chunk(self, session: int, number: int) -> str:
        header = base64.b64encode(HEADER.pack(session, number)).decode()
        return self.prefix + header + self.suffix

    async def open(self, session: int, token: str | None) -> ClientConnection:
        """A session ready to stream: started, and one chunk already echoed (so the upstream
        connection behind a relay is up); the time that took is kept as its setup time."""
        began = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        ws = await connect(
            self.args.url,
            additional_headers=headers,
            ping_interval=None,
            max_size=2**22,
            compression=None,
        )
        first = json.loads(await asyncio.wait_for(ws.recv(), SETUP_TIMEOUT_S))
        if self.gateway:
            if first.get("type") != "welcome":
                raise RuntimeError(f"expected welcome, got {first}")
            await ws.send(json.dumps({"type": "session.start"}))
            await self._until(ws, lambda m: m.get("type") == "session.started")
        await ws.send(self.chunk(session, PROBE))
        await self._until(ws, lambda m: m.get("type") == self.echo_type)
        self.setup_s.append(time.perf_counter() - began)
        return ws

    async def _until(self, ws: ClientConnection, wanted: Any) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), SETUP_TIMEOUT_S))
            if wanted(message):
                return message
            if message.get("type") in ("error", "session.ended"):
                raise RuntimeError(f"session refused: {message}")

    async def run_session(self, session: int, ws: ClientConnection) -> None:
        sent: dict[int, float] = {}
        echoed = 0
        last_seq = acked = 0

        async def receive() -> None:
            nonlocal echoed, last_seq
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    now = time.perf_counter()
                    message = json.loads(raw)
                    kind = message.get("type")
                    last_seq = message.get("seq", last_seq)
                    if kind == self.echo_type:
                        _, number = HEADER.unpack(base64.b64decode(message[self.echo_field][:8]))
                        at = sent.pop(number, None)
                        if at is not None and at >= self.measure_from:
                            self.rtts.append(now - at)
                            echoed += 1
                    elif kind == "error":
                        self.errors[f"{message.get('code')}: {message.get('message')}"] += 1
                    elif kind == "session.ended":
                        self.errors[f"session ended by the gateway: {message.get('reason')}"] += 1
                        return

        receiver = asyncio.create_task(receive())
        phase = self.t0 + CHUNK_S * session / self.args.sessions
        number = 0
        try:
            while True:
                at = phase + number * CHUNK_S
                if at >= self.stop_at:
                    break
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                now = time.perf_counter()
                sent[number] = now
                if now >= self.measure_from:
                    self.sent_measured += 1
                await ws.send(self.chunk(session, number))
                number += 1
                if self.gateway and number % ACK_EVERY == 0 and last_seq > acked:
                    # as a kiosk should: what arrived need not be kept for a resume
                    acked = last_seq
                    await ws.send(json.dumps({"type": "ack", "seq": acked}))
            # the last echoes have a moment to arrive
            await asyncio.sleep(self.args.grace)
            if self.gateway:
                await ws.send(json.dumps({"type": "session.end"}))
        except ConnectionClosed as exc:
            self.errors[f"connection closed: {exc}"] += 1
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
            await ws.close()

    async def run(self, tokens: list[str | None]) -> dict[str, Any]:
        gate = asyncio.Semaphore(50)

        async def open_one(i: int) -> ClientConnection:
            async with gate:
                return await self.open(i, tokens[i])

        opened = await asyncio.gather(
            *(open_one(i) for i in range(self.args.sessions)), return_exceptions=True
        )
        failed = [o for o in opened if isinstance(o, BaseException)]
        if failed:
            for o in opened:
                if not isinstance(o, BaseException):
                    await o.close()
            return {"error": f"{len(failed)} sessions could not start: {failed[0]!r}"}
        self.t0 = time.perf_counter() + 0.5
        emit(event="streaming", sessions=self.args.sessions)
        self.measure_from = self.t0 + self.args.warmup
        self.stop_at = self.measure_from + self.args.seconds
        window = asyncio.create_task(self.announce_window())
        await asyncio.gather(*(self.run_session(i, ws) for i, ws in enumerate(opened)))  # type: ignore[arg-type]
        await window
        return self.summary()

    async def announce_window(self) -> None:
        """Says when the measured window opens and closes, so that the benchmark reads the
        servers' CPU over exactly that window; and this process's own CPU over it."""
        await asyncio.sleep(max(0.0, self.measure_from - time.perf_counter()))
        began = time.process_time()
        emit(event="measuring")
        await asyncio.sleep(max(0.0, self.stop_at - time.perf_counter()))
        emit(event="measured")
        self.client_cores_busy = (time.process_time() - began) / self.args.seconds

    def summary(self) -> dict[str, Any]:
        rtts = sorted(self.rtts)

        def pct(p: float) -> float | None:
            if not rtts:
                return None
            return round(1000 * rtts[min(len(rtts) - 1, int(p * len(rtts)))], 2)

        return {
            "sessions": self.args.sessions,
            "sent": self.sent_measured,
            "echoed": len(rtts),
            "lost": self.sent_measured - len(rtts),
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": round(1000 * rtts[-1], 2) if rtts else None,
            "errors": dict(self.errors.most_common(5)),
            "client_cores_busy": round(self.client_cores_busy, 2),
            "setup_ms_p50": _ms(sorted(self.setup_s), 0.5),
            "setup_ms_max": _ms(sorted(self.setup_s), 1.0),
        }


def _ms(values: list[float], share: float) -> float | None:
    if not values:
        return None
    return round(1000 * values[min(len(values) - 1, int(share * len(values)))], 1)


async def stream(args: argparse.Namespace, given: list[str]) -> None:
    tokens: list[str | None] = [None] * args.sessions
    if args.mode == "gateway":
        tokens = list(given[: args.sessions])
        if len(tokens) < args.sessions:
            emit(error=f"only {len(tokens)} tokens for {args.sessions} sessions")
            return
    emit(**await Stream(args).run(tokens))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_clients")
    sub = parser.add_subparsers(dest="command", required=True)
    p_idle = sub.add_parser("idle")
    p_idle.add_argument("--url", required=True)
    p_idle.add_argument("--tokens", required=True)
    p_idle.add_argument("--interval", type=float, default=30.0)
    p_idle.add_argument("--concurrency", type=int, default=100)
    p_idle.add_argument("--deadline", type=float, default=300.0, help="seconds to connect all")
    p_stream = sub.add_parser("stream")
    p_stream.add_argument("--mode", choices=["direct", "relay", "gateway"], required=True)
    p_stream.add_argument("--url", required=True)
    p_stream.add_argument("--sessions", type=int, required=True)
    p_stream.add_argument("--tokens")
    p_stream.add_argument("--warmup", type=float, default=2.0)
    p_stream.add_argument("--seconds", type=float, default=8.0)
    p_stream.add_argument("--grace", type=float, default=1.0)
    args = parser.parse_args()
    raise_fd_limit()
    tokens = Path(args.tokens).read_text().split() if args.tokens else []
    asyncio.run(idle(args, tokens) if args.command == "idle" else stream(args, tokens))


if __name__ == "__main__":
    main()
