"""How much one session-gateway process holds: idle kiosks (memory) and streaming sessions
(added latency), each measured beside a bare baseline in the same run.

`python -m bench.gateway` (from the repository root) starts a throw-away embedded PostgreSQL and
broker (bench/common.py), migrates the gateway's schema, seeds its kiosk directory
(`gateway.kiosks`) and signs kiosk tokens with a throw-away key pair (the gateway verifies them
with `JARVIS_TOKEN_PUBLIC_KEY`). The gateway runs as its own process, started the way production
starts it (`python -m jarvis_common.runner session-gateway`); the kiosks run in client processes
of their own (bench/gateway_clients.py), so their memory and CPU are not the server's.

**A. Idle kiosks.** N kiosks connect and heartbeat every 30 s (the first beat spread over the
first interval); the server's RSS is read before they connect (after a small warm-up) and while
they are held for a whole heartbeat interval. Per connection = (RSS with N held - RSS before) / N.
Baseline: a bare `websockets` server (bench/gateway_servers.py `idle`: welcome + heartbeat ack)
holding the same N. Target: >= 10,000 kiosks held, under 1 GiB.

**B. Streaming sessions.** A minimal Realtime-like upstream (gateway_servers `upstream`, its own
process) echoes every `input_audio_buffer.append` at once as a `response.output_audio.delta`. S
sessions each send a 100 ms chunk of PCM16 (4,800 bytes, 6,400 base64 characters) every 100 ms
and time each chunk's echo, from 5 s after they start streaming (`--stream-warmup`): a session
keeps its last seconds of audio for a replay, and a real one lasts minutes, so the measure is of
sessions whose buffers have reached their steady size, not of their first seconds (which fault
in fresh memory for them). Added latency = p99 round trip through a path - p99 round trip
straight to the upstream at the same S, measured just before. Paths: the gateway (kiosk
protocol, `audio.append` -> `response.audio.delta`) and a bare two-hop relay (gateway_servers
`relay`: forwards every message both ways). S steps up until the added p99 passes 20 ms (or a
chunk is lost). Each attempt has its own direct baseline just before it, and the two paths take
turns within a step. An attempt within half the limit decides a step; otherwise the majority of
up to three attempts does (the report shows the median one), so one stall or one lucky run on a
noisy machine decides nothing. Target: the gateway
relays >= 100 sessions, and >= 80 % of what the bare relay manages.

Beside latency, each step reports the CPU each path's own server spent per chunk relayed (one
message each way), read over the measured window only (the clients say when it opens and
closes). Latency limits move with the machine's other load from run to run; this cost is the
steadier comparison of the two paths, and says where the gap is when there is one. The
upstream writes its events as the API does (`event_id` first), so the gateway is measured on
the shape it meets in production.

Results: `bench/results/gateway-<UTC timestamp>.json` and `.md`, and `gateway-latest.*`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.common import (
    RESULTS_DIR,
    Infrastructure,
    machine,
    profile_summary,
    timestamp,
    write_results,
)
from bench.gateway_report import (
    ADDED_P99_LIMIT_MS,
    IDLE_TARGET,
    NAME,
    STREAM_SHARE,
    STREAM_TARGET,
    markdown,
    median_attempt,
)
from jarvis_common.db.migrations import upgrade
from jarvis_common.devrun.kafka import free_port
from jarvis_common.events.catalogue import KioskConfig
from jarvis_common.settings import plain_dsn
from jarvis_common.tokens import (
    KIOSK_AUDIENCE,
    TokenSigner,
    generate_private_key_pem,
    public_key_pem,
)
from session_gateway.bootstrap import SERVICE

IDLE_MEMORY_LIMIT = 2**30
WARM_UP_KIOSKS = 20
REALTIME_PATH = "/v1/realtime?model=gpt-realtime"
KIOSK_SOCKET = "/api/v1/kiosk/ws"


# --- processes ----------------------------------------------------------------------------------


class Child:
    """A process of the benchmark; its JSON stdout lines are read by a thread."""

    def __init__(self, name: str, argv: list[str], logs: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log_path = logs / f"{name}.log"
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log_path, "ab"),
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ps = psutil.Process(self.proc.pid)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def line(self, timeout: float) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.name}: nothing after {timeout:.0f} s") from None
        if line is None:
            raise RuntimeError(f"{self.name} exited ({self.proc.wait()}); see {self.log_path}")
        return line

    def json(self, timeout: float) -> dict[str, Any]:
        while True:
            line = self.line(timeout)
            if line.startswith("{"):
                result: dict[str, Any] = json.loads(line)
                return result

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def cpu_s(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def close_stdin(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def wait_ready(url: str, child: Child, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited; see {child.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{child.name} not ready at {url}")


def start_gateway(
    infra: Infrastructure,
    public_key: str,
    logs: Path,
    name: str,
    profile: Path | None = None,
    **extra: str,
) -> tuple[Child, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JARVIS_", "OPENAI_"))}
    env |= {
        "JARVIS_DATABASE_URL": infra.database_url,
        "JARVIS_KAFKA_BOOTSTRAP_SERVERS": infra.kafka.bootstrap_servers,
        "JARVIS_TOKEN_PUBLIC_KEY": public_key,
        "JARVIS_GATEWAY_PORT": str(port),
        "JARVIS_LOG_LEVEL": "WARNING",
        **extra,
    }
    argv = python("jarvis_common.runner", "session-gateway")
    if profile is not None:
        argv = python("bench.gateway_profiled", str(profile))
    child = Child(name, argv, logs, env)
    wait_ready(f"http://127.0.0.1:{port}/readyz", child)
    return child, port


def start_server(kind: str, logs: Path, *args: str) -> tuple[Child, int]:
    port = free_port()
    child = Child(kind, python("bench.gateway_servers", kind, "--port", str(port), *args), logs)
    if child.line(30) != "ready":
        raise RuntimeError(f"{kind} did not start; see {child.log_path}")
    return child, port


# --- kiosks -------------------------------------------------------------------------------------


def kiosk_rows(n: int, per_gym: int, config: KioskConfig) -> list[tuple[Any, ...]]:
    body = json.dumps(config.model_dump(mode="json"))
    gyms = [uuid.uuid4() for _ in range(max(1, -(-n // per_gym)))]
    return [(uuid.uuid4(), gyms[i // per_gym], None, 1, body) for i in range(n)]


async def seed(dsn: str, rows: list[tuple[Any, ...]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "kiosks",
            schema_name=SERVICE.schema,
            columns=["kiosk_id", "gym_id", "franchise_id", "config_version", "config"],
            records=rows,
        )
    finally:
        await conn.close()


def token_file(directory: Path, name: str, key: str, rows: list[tuple[Any, ...]]) -> Path:
    signer = TokenSigner(key)
    path = directory / f"{name}.tokens"
    path.write_text(
        "\n".join(
            signer.sign(str(kiosk), KIOSK_AUDIENCE, 4 * 3600, gym_id=str(gym))[0]
            for kiosk, gym, *_ in rows
        )
        + "\n"
    )
    return path


async def open_sessions(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM gateway.sessions WHERE state = 'open'"
        )
        return count
    finally:
        await conn.close()


def wait_sessions_closed(dsn: str, timeout: float = 60) -> float:
    """Seconds until the gateway has closed (and stored) every session of the last run, so the
    next measurement does not pay for their endings."""
    started = time.monotonic()
    while asyncio.run(open_sessions(dsn)) and time.monotonic() - started < timeout:
        time.sleep(0.25)
    return round(time.monotonic() - started, 2)


async def heartbeats_in_outbox(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(DISTINCT key) FROM gateway.outbox WHERE topic = 'kiosk.heartbeat'"
        )
        return count
    finally:
        await conn.close()


def logged_errors(log: Path) -> dict[str, int]:
    """The server's logged exceptions, by their last line (e.g. a pool timeout)."""
    found: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("level") not in ("ERROR", "CRITICAL"):
            continue
        detail = (record.get("exc_info") or record.get("message") or "").strip().splitlines()
        key = detail[-1][:160] if detail else "?"
        found[key] = found.get(key, 0) + 1
    return dict(sorted(found.items(), key=lambda kv: -kv[1])[:5])


# --- A. idle kiosks -----------------------------------------------------------------------------


def hold_idle(
    server: Child, url: str, tokens: Path, warm_up: Path, args: argparse.Namespace, logs: Path
) -> dict[str, Any]:
    """RSS before and with the kiosks of `tokens` connected and heartbeating, per connection."""
    warm = Child(
        f"{server.name}-warm-up",
        python("bench.gateway_clients", "idle", "--url", url, "--tokens", str(warm_up)),
        logs,
    )
    warm.json(120)
    time.sleep(2)  # a few heartbeats (the spread is over --interval, here the default 30 s)
    warm.close_stdin()
    warm.json(60)
    warm.stop()
    time.sleep(2)  # the server lets go of the warm-up connections
    before = server.rss()
    cpu_before = server.cpu_s()
    clients = Child(
        f"{server.name}-kiosks",
        python(
            "bench.gateway_clients",
            "idle",
            "--url",
            url,
            "--tokens",
            str(tokens),
            "--interval",
            str(args.heartbeat_interval),
            "--concurrency",
            str(args.connect_concurrency),
            "--deadline",
            str(args.connect_timeout_s),
        ),
        logs,
    )
    try:
        connected = clients.json(args.connect_timeout_s + 60)
        print(
            f"  {connected['connected']:,} of {connected['wanted']:,} connected in "
            f"{connected['seconds']} s; holding {args.hold_s:.0f} s ...",
            flush=True,
        )
        held_from = time.monotonic()
        cpu_held = server.cpu_s()
        samples = []
        while time.monotonic() - held_from < args.hold_s:
            time.sleep(1)
            samples.append(server.rss())
        cpu_hold = server.cpu_s() - cpu_held
        clients.close_stdin()
        stopped = clients.json(120)
    finally:
        clients.stop()
    n = connected["connected"]
    rss = samples[-1]
    return {
        "kiosks_wanted": connected["wanted"],
        "kiosks_connected": n,
        "kiosks_still_open_at_end": stopped["still_open"],
        "connect_seconds": connected["seconds"],
        "connect_failures": connected["failures"],
        "kiosks_not_connected_in_time": connected["not_in_time"],
        "heartbeat_acks": stopped["heartbeat_acks"],
        "rss_before_mb": round(before / 2**20, 1),
        "rss_held_mb": round(rss / 2**20, 1),
        "rss_held_max_mb": round(max(samples) / 2**20, 1),
        "kb_per_connection": round((rss - before) / max(n, 1) / 1024, 2),
        "cpu_s_connecting": round(cpu_held - cpu_before, 1),
        "cores_busy_while_held": round(cpu_hold / args.hold_s, 3),
    }


def part_a(
    infra: Infrastructure, key: str, args: argparse.Namespace, work: Path, logs: Path
) -> dict[str, Any]:
    n = args.idle_kiosks
    rows = kiosk_rows(n + WARM_UP_KIOSKS, 10, KioskConfig(gym_name="Bench"))
    asyncio.run(seed(plain_dsn(infra.database_url), rows))
    tokens = token_file(work, "idle", key, rows[:n])
    warm_up = token_file(work, "idle-warm-up", key, rows[n:])
    result: dict[str, Any] = {}

    print(f"A. idle kiosks: bare websockets server, {n:,} kiosks ...", flush=True)
    bare, port = start_server("idle", logs)
    try:
        result["bare"] = hold_idle(bare, f"ws://127.0.0.1:{port}", tokens, warm_up, args, logs)
    finally:
        bare.stop()

    print(f"A. idle kiosks: gateway, {n:,} kiosks ...", flush=True)
    gateway, port = start_gateway(infra, public_key_pem(key), logs, "gateway-idle")
    try:
        url = f"ws://127.0.0.1:{port}{KIOSK_SOCKET}"
        result["gateway"] = hold_idle(gateway, url, tokens, warm_up, args, logs)
        result["gateway"]["kiosks_with_a_heartbeat_in_the_outbox"] = asyncio.run(
            heartbeats_in_outbox(plain_dsn(infra.database_url))
        )
    finally:
        gateway.stop()
    result["gateway"]["server_errors"] = logged_errors(gateway.log_path)

    g, b = result["gateway"], result["bare"]
    held = g["kiosks_still_open_at_end"]
    result["ratio_kb_gateway_over_bare"] = round(g["kb_per_connection"] / b["kb_per_connection"], 2)
    result["pass"] = (
        held >= IDLE_TARGET and g["rss_held_max_mb"] * 2**20 < IDLE_MEMORY_LIMIT and held == n
    )
    return result


# --- B. streaming sessions ----------------------------------------------------------------------


def stream(
    mode: str, url: str, sessions: int, args: argparse.Namespace, logs: Path, **extra: Any
) -> dict[str, Any]:
    argv = [
        *python("bench.gateway_clients", "stream", "--mode", mode, "--url", url),
        *("--sessions", str(sessions), "--seconds", str(args.stream_seconds)),
        *("--warmup", str(args.stream_warmup)),
    ]
    if extra.get("tokens"):
        argv += ["--tokens", str(extra["tokens"])]
    servers: list[Child] = extra.get("servers", [])
    cpu = [s.cpu_s() for s in servers]
    started = time.monotonic()
    window: dict[str, tuple[float, list[float]]] = {}
    client = Child(f"stream-{mode}-{sessions}", argv, logs)
    try:
        while True:
            result = client.json(args.stream_seconds + args.stream_warmup + 120)
            event = result.get("event")
            if event == "streaming":
                if extra.get("profiled") is not None:
                    extra["profiled"].proc.send_signal(signal.SIGUSR2)  # profile the streaming only
            elif event in ("measuring", "measured"):
                window[event] = (time.monotonic(), [s.cpu_s() for s in servers])
            else:
                break
    finally:
        client.stop()
    wall = time.monotonic() - started
    result["server_cores_busy"] = {
        s.name: round((s.cpu_s() - c) / wall, 2) for s, c in zip(servers, cpu, strict=True)
    }
    if len(window) == 2 and result.get("echoed"):
        (t0, before), (t1, after) = window["measuring"], window["measured"]
        # CPU per chunk relayed (one message each way), over the measured window only: the
        # cost of the path itself, far steadier from run to run than latency is
        result["server_cpu_us_per_chunk"] = {
            s.name: round(1e6 * (a - b) / result["echoed"], 1)
            for s, b, a in zip(servers, before, after, strict=True)
        }
        result["server_cores_busy_measured"] = {
            s.name: round((a - b) / (t1 - t0), 2)
            for s, b, a in zip(servers, before, after, strict=True)
        }
    return result


def verdict(path: dict[str, Any], direct: dict[str, Any]) -> dict[str, Any]:
    ok = "error" not in path and "error" not in direct and path["echoed"] > 0
    added = None
    if ok:
        added = round(path["p99_ms"] - direct["p99_ms"], 2)
        ok = added <= ADDED_P99_LIMIT_MS and path["lost"] == 0 and not path["errors"]
    return {"added_p99_ms": added, "ok": ok}


def cpu_per_chunk(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per step where both paths were measured: each path's own server's CPU per chunk."""
    found = []
    for step in steps:
        paths = step["paths"]
        if "relay" not in paths or "gateway" not in paths:
            continue
        relay, gateway = (median_attempt(paths[p]["attempts"]) for p in ("relay", "gateway"))
        r = relay.get("server_cpu_us_per_chunk", {}).get("relay")
        g = gateway.get("server_cpu_us_per_chunk", {}).get("gateway-stream")
        if r and g:
            found.append(
                {
                    "sessions": step["sessions"],
                    "relay": r,
                    "gateway": g,
                    "ratio": round(g / r, 2),
                    "client_cores_busy": max(
                        relay.get("client_cores_busy", 0), gateway.get("client_cores_busy", 0)
                    ),
                }
            )
    return found


def settled(attempts: list[dict[str, Any]]) -> bool:
    """Whether a path's verdict at a step is known. One attempt well within the limit (half of
    it) decides; otherwise the majority of up to three, each after its own direct baseline, so
    that one stall (or one lucky run) on a noisy machine decides nothing either way."""
    first = attempts[0]
    if len(attempts) == 1:
        added = first["added_p99_ms"]
        return bool(first["ok"] and added is not None and added <= ADDED_P99_LIMIT_MS / 2)
    if len(attempts) == 2:
        return bool(attempts[0]["ok"] == attempts[1]["ok"])
    return True


def part_b(
    infra: Infrastructure, key: str, args: argparse.Namespace, work: Path, logs: Path
) -> dict[str, Any]:
    most = max(args.steps)
    rows = kiosk_rows(most + 1, 1, KioskConfig(gym_name="Bench", idle_timeout_s=600))
    asyncio.run(seed(plain_dsn(infra.database_url), rows))
    tokens = token_file(work, "stream", key, rows)
    dsn = plain_dsn(infra.database_url)
    upstream, up_port = start_server("upstream", logs)
    relay, relay_port = start_server("relay", logs, "--upstream", f"ws://127.0.0.1:{up_port}")
    profile = RESULTS_DIR / f"{NAME}-{args.stamp}-gateway.prof" if args.profile else None
    gateway, gw_port = start_gateway(
        infra,
        public_key_pem(key),
        logs,
        "gateway-stream",
        profile,
        JARVIS_GATEWAY_OPENAI_API_KEY="sk-bench",
        JARVIS_GATEWAY_OPENAI_BASE_URL=f"http://127.0.0.1:{up_port}/v1",
        JARVIS_GATEWAY_OPENAI_WS_BASE_URL=f"ws://127.0.0.1:{up_port}/v1",
    )
    urls = {
        "direct": f"ws://127.0.0.1:{up_port}{REALTIME_PATH}",
        "relay": f"ws://127.0.0.1:{relay_port}{REALTIME_PATH}",
        "gateway": f"ws://127.0.0.1:{gw_port}{KIOSK_SOCKET}",
    }
    servers = {"direct": [upstream], "relay": [relay, upstream], "gateway": [gateway, upstream]}
    result: dict[str, Any] = {"steps": [], "max_sessions": {"relay": 0, "gateway": 0}}
    try:
        # Does the gateway relay audio yet? One session, one second.
        probe = stream(
            "gateway",
            urls["gateway"],
            1,
            argparse.Namespace(**{**vars(args), "stream_seconds": 1}),
            logs,
            tokens=tokens,
        )
        wait_sessions_closed(dsn)
        active = ["relay", "gateway"]
        if "error" in probe or probe.get("echoed", 0) == 0 or probe.get("errors"):
            result["gateway_unavailable"] = (
                "the gateway does not relay audio to the Realtime upstream yet "
                f"(one-session probe: {json.dumps(probe)})"
            )
            print(f"B. {result['gateway_unavailable']}", flush=True)
            active = ["relay"]
        for sessions in args.steps:
            if not active:
                break
            step: dict[str, Any] = {"sessions": sessions, "paths": {}}
            direct = stream("direct", urls["direct"], sessions, args, logs, servers=[upstream])
            step["direct"] = direct
            print(f"B. S={sessions}: direct p99 {direct.get('p99_ms')} ms", flush=True)
            # The paths take turns, each attempt after its own direct baseline, so that a bad
            # patch of the machine (they last tens of seconds here) falls on both, not on
            # whichever path happened to be measured then.
            attempts: dict[str, list[dict[str, Any]]] = {path: [] for path in active}
            base: dict[str, Any] | None = direct
            while unsettled := [p for p in active if not attempts[p] or not settled(attempts[p])]:
                for path in unsettled:
                    if base is None:
                        base = stream(
                            "direct", urls["direct"], sessions, args, logs, servers=[upstream]
                        )
                    measured = stream(
                        path,
                        urls[path],
                        sessions,
                        args,
                        logs,
                        tokens=tokens if path == "gateway" else None,
                        servers=servers[path],
                        profiled=gateway if profile is not None and path == "gateway" else None,
                    )
                    if path == "gateway":
                        measured["sessions_closed_after_s"] = wait_sessions_closed(dsn)
                    attempts[path].append({**measured, **verdict(measured, base), "direct": base})
                    base = None
            for path in list(active):
                tried = attempts[path]
                ok = sum(a["ok"] for a in tried) * 2 > len(tried)
                best = median_attempt(tried)
                step["paths"][path] = {"attempts": tried, "ok": ok}
                print(
                    f"   {path}: p99 {best.get('p99_ms')} ms, added {best['added_p99_ms']} ms, "
                    f"lost {best.get('lost')}, {'ok' if ok else 'PAST THE LIMIT'}"
                    + (
                        f" (median of {len(tried)}: {[a['ok'] for a in tried]})"
                        if len(tried) > 1
                        else ""
                    ),
                    flush=True,
                )
                if ok:
                    result["max_sessions"][path] = sessions
                else:
                    active.remove(path)
            result["steps"].append(step)
    finally:
        if profile is not None:
            gateway.proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 30
            while not profile.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(2)  # dump_stats may still be writing
        for child in (gateway, relay, upstream):
            child.stop()
    result["gateway_server_errors"] = logged_errors(gateway.log_path)
    if profile is not None and profile.exists():
        result["gateway_profile"] = {
            "file": str(profile),
            "top": profile_summary(profile, limit=30),
        }
    result["cpu_us_per_chunk"] = cpu_per_chunk(result["steps"])
    ratios = sorted(c["ratio"] for c in result["cpu_us_per_chunk"])
    result["cpu_ratio_median"] = ratios[len(ratios) // 2] if ratios else None
    g, b = result["max_sessions"]["gateway"], result["max_sessions"]["relay"]
    result["ratio_gateway_over_relay"] = round(g / b, 3) if b else None
    result["capped_by_steps"] = [
        p for p in ("relay", "gateway") if result["max_sessions"][p] == most
    ]
    # A relay that passed every step has an unknown limit: the ratio is then only an upper bound
    # and cannot pass, unless the gateway passed every step too.
    relay_limit_known = "relay" not in result["capped_by_steps"] or g == most
    result["pass"] = g >= STREAM_TARGET and b > 0 and g >= STREAM_SHARE * b and relay_limit_known
    return result


# --- entry point --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--part", choices=["all", "idle", "streaming"], default="all")
    parser.add_argument("--idle-kiosks", type=int, default=IDLE_TARGET)
    parser.add_argument("--heartbeat-interval", type=float, default=30.0)
    parser.add_argument("--hold-s", type=float, default=35.0, help="held after all connected")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--connect-timeout-s", type=float, default=300.0)
    parser.add_argument(
        "--steps",
        type=lambda s: [int(x) for x in s.split(",")],
        # Every 50 from 300: the limits on a 2-core VM were 700-1,000 sessions one day and
        # 400-650 the next, and coarse steps would make the ratio an artefact of the grid.
        default=[50, 100, 200, *range(300, 1001, 50), 1100, 1200],
    )
    parser.add_argument("--stream-seconds", type=float, default=5.0)
    parser.add_argument("--stream-warmup", type=float, default=5.0)
    parser.add_argument(
        "--profile", action="store_true", help="run the streaming gateway under cProfile"
    )
    parser.add_argument("--quick", action="store_true", help="1,000 idle kiosks, steps 10,25,50")
    args = parser.parse_args(argv)
    if args.quick:
        args.idle_kiosks, args.hold_s, args.steps = 1000, 10.0, [10, 25, 50]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every child
    needed = args.idle_kiosks + 1000
    if hard < needed:
        print(f"the open-file limit ({hard}) is below {needed}: raise it (ulimit -Hn)")
        return 2
    stamp = args.stamp = timestamp()
    machine_info = machine()
    infra = Infrastructure("bench_gateway")
    logs = Path(tempfile.gettempdir()) / f"jarvis-bench-{NAME}-{stamp}-logs"
    print("starting embedded PostgreSQL and broker ...", flush=True)
    infra.start()
    result: dict[str, Any] = {
        "benchmark": NAME,
        "timestamp": stamp,
        "machine": machine_info,
        "config": {
            "idle_kiosks": args.idle_kiosks,
            "heartbeat_interval_s": args.heartbeat_interval,
            "hold_s": args.hold_s,
            "steps": args.steps,
            "stream_seconds": args.stream_seconds,
            "stream_warmup_s": args.stream_warmup,
            "chunk": "100 ms, 4,800 bytes PCM16 24 kHz, 6,400 base64 characters",
        },
    }
    try:
        with tempfile.TemporaryDirectory(prefix="jarvis-bench-gateway-") as tmp:
            work = Path(tmp)
            logs.mkdir(parents=True, exist_ok=True)
            upgrade(SERVICE, infra.database_url)
            key = generate_private_key_pem()
            if args.part in ("all", "idle"):
                result["idle"] = part_a(infra, key, args, work, logs)
            if args.part in ("all", "streaming"):
                result["streaming"] = part_b(infra, key, args, work, logs)
    finally:
        infra.stop()
    result["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    parts = [result[p]["pass"] for p in ("idle", "streaming") if p in result]
    result["pass"] = bool(parts) and all(parts)
    md = markdown(result)
    path = write_results(NAME, stamp, result, md)
    print()
    print(md)
    print(f"results: {path} (and .md); the processes' logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
