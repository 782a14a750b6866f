"""Benchmark: the dashboard's kiosk list for a gym under 64 concurrent clients.

The registry runs as it does in production (its own process, `python -m jarvis_common.runner
kiosk-registry`, one uvicorn worker) on embedded PostgreSQL and broker. 64 clients call
`GET /api/v1/kiosks?gym_id=…` as the gym's manager: token check, user load, tenant-scoped query,
page count. Beside it, in the same run, a bare FastAPI endpoint doing one query
(`bench/bare_api.py`) takes the same load. Both are reported as requests/s and p50/p99
latency, and as the ratio registry / bare. Results: bench/results/registry-api-*.json.

    python -m bench.registry_api [--seconds 10] [--clients 64] [--kiosks 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.common import timestamp, write_results
from jarvis_common.db.migrations import upgrade
from jarvis_common.devrun.kafka import EmbeddedKafka, free_port
from jarvis_common.devrun.postgres import EmbeddedPostgres
from jarvis_common.runner import installed_services
from jarvis_common.settings import plain_dsn
from jarvis_common.tokens import generate_private_key_pem

PASSWORD = "benchmark password"


async def seed(dsn: str, kiosks: int) -> tuple[str, str]:
    from kiosk_registry.auth import hash_password

    conn = await asyncpg.connect(dsn)
    try:
        gym = uuid.uuid4()
        await conn.execute("INSERT INTO registry.gyms (id, name) VALUES ($1, 'Bench gym')", gym)
        other = uuid.uuid4()
        await conn.execute("INSERT INTO registry.gyms (id, name) VALUES ($1, 'Other')", other)
        rows = [
            (uuid.uuid4(), g, f"k-{g.hex[:6]}-{i}", f"Kiosk {i:04d}")
            for g in (gym, other)
            for i in range(kiosks)
        ]
        await conn.executemany(
            "INSERT INTO registry.kiosks (id, gym_id, slug, name, status) "
            "VALUES ($1, $2, $3, $4, 'offline')",
            rows,
        )
        email = "manager@bench-gym.fr"
        await conn.execute(
            "INSERT INTO registry.users (id, email, role, gym_id, password_hash) "
            "VALUES ($1, $2, 'gym_manager', $3, $4)",
            uuid.uuid4(),
            email,
            gym,
            hash_password(PASSWORD),
        )
        return str(gym), email
    finally:
        await conn.close()


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


async def load(url: str, headers: dict[str, str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await http.get(url, headers=headers)  # warm up
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.get(url, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--kiosks", type=int, default=200)
    args = parser.parse_args(argv)

    children: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="jarvis-bench-api-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg", delete_on_stop=True)
        kafka = EmbeddedKafka(free_port())
        postgres.start()
        kafka.start()
        try:
            postgres.ensure_database("bench")
            url = postgres.url("bench")
            upgrade(installed_services()["kiosk-registry"], url)
            gym, email = asyncio.run(seed(plain_dsn(url), args.kiosks))
            registry_port, bare_port = free_port(), free_port()
            env = {
                **os.environ,
                "JARVIS_DATABASE_URL": url,
                "JARVIS_LOG_LEVEL": "WARNING",
                "JARVIS_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "JARVIS_REGISTRY_PORT": str(registry_port),
                "JARVIS_REGISTRY_SIGNING_KEY": generate_private_key_pem(),
                "BENCH_DSN": plain_dsn(url),
            }
            out = subprocess.DEVNULL
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "jarvis_common.runner", "kiosk-registry"],
                    env=env,
                    stdout=out,
                    stderr=out,
                )
            )
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "bench.bare_api:app",
                        "--port",
                        str(bare_port),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    env=env,
                    stdout=out,
                    stderr=out,
                )
            )
            registry = f"http://127.0.0.1:{registry_port}"
            bare = f"http://127.0.0.1:{bare_port}"
            wait_http(f"{registry}/readyz")
            wait_http(f"{bare}/kiosks?gym_id={gym}")
            token = httpx.post(
                f"{registry}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            ).json()["access_token"]
            auth = {"authorization": f"Bearer {token}"}
            print(f"load: {args.clients} clients for {args.seconds:.0f} s each ...", flush=True)
            bare_result = asyncio.run(
                load(f"{bare}/kiosks?gym_id={gym}", {}, args.clients, args.seconds)
            )
            registry_result = asyncio.run(
                load(f"{registry}/api/v1/kiosks?gym_id={gym}", auth, args.clients, args.seconds)
            )
        finally:
            for child in children:
                child.terminate()
                child.wait(30)
            kafka.stop()
            postgres.stop()

    result = {
        "benchmark": "registry kiosk list under concurrent clients",
        "time": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "config": vars(args),
        "registry_kiosk_list": registry_result,
        "bare_fastapi_one_query": bare_result,
        "ratio_requests_per_s": round(
            registry_result["requests_per_s"] / bare_result["requests_per_s"], 3
        ),
    }
    print(f"{'':34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, r in (
        ("registry GET /api/v1/kiosks", registry_result),
        ("bare FastAPI, one query", bare_result),
    ):
        print(
            f"{name:34}{r['requests_per_s']:>9,.0f}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['errors']:>8}"
        )
    print(f"registry / bare = {result['ratio_requests_per_s']}")
    write_results("registry-api", timestamp(), result)
    return 0 if registry_result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
