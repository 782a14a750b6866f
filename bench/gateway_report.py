"""The gateway benchmark's report: its targets and the Markdown summary."""

from __future__ import annotations

from typing import Any

NAME = "gateway"
IDLE_TARGET = 10_000
STREAM_TARGET = 100
STREAM_SHARE = 0.8
ADDED_P99_LIMIT_MS = 20.0


def median_attempt(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """The attempt with the median added p99 (of one, two or three)."""

    def added(a: dict[str, Any]) -> float:
        return a["added_p99_ms"] if a["added_p99_ms"] is not None else float("inf")

    return sorted(attempts, key=added)[len(attempts) // 2]


def markdown(result: dict[str, Any]) -> str:
    out = [f"# Gateway benchmark, {result['timestamp']}", ""]
    m = result["machine"]
    out.append(
        f"{m['cpu_count']} CPUs, Python {m['python']}, load {m.get('load_avg_at_start')} at start, "
        f"{m.get('load_avg_at_end')} at end."
    )
    a = result.get("idle")
    if a:
        g, b = a["gateway"], a["bare"]
        out += [
            "",
            f"## A. Idle kiosks (heartbeat every {result['config']['heartbeat_interval_s']:.0f} s)",
            "",
            "| server | connected (in s) | held to the end | RSS before | RSS held | "
            "KB / connection | cores busy while held |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, r in (("bare websockets", b), ("gateway", g)):
            out.append(
                f"| {label} | {r['kiosks_connected']:,} ({r['connect_seconds']}) | "
                f"{r['kiosks_still_open_at_end']:,} / {r['kiosks_wanted']:,} | "
                f"{r['rss_before_mb']} MB | {r['rss_held_mb']} MB | {r['kb_per_connection']} | "
                f"{r['cores_busy_while_held']} |"
            )
        out += [
            "",
            f"Gateway / bare: {a['ratio_kb_gateway_over_bare']}x per connection. "
            f"Kiosks with a heartbeat in the gateway's outbox (warm-up kiosks included): "
            f"{g.get('kiosks_with_a_heartbeat_in_the_outbox', '?'):,}. "
            f"**{'PASS' if a['pass'] else 'FAIL'}** (>= {IDLE_TARGET:,} held, < 1 GiB).",
        ]
        if g.get("server_errors"):
            out += ["", "Errors the gateway logged:", ""]
            out += [f"- {count} x `{error}`" for error, count in g["server_errors"].items()]
    bpart = result.get("streaming")
    if bpart:
        out += [
            "",
            "## B. Streaming sessions (100 ms chunks, added p99 limit "
            f"{ADDED_P99_LIMIT_MS:.0f} ms)",
            "",
        ]
        if bpart.get("gateway_unavailable"):
            out += [f"Gateway path: **not measured** — {bpart['gateway_unavailable']}", ""]
        out += [
            "| S | direct p99 | relay p99 (added) | gateway p99 (added) |",
            "|---|---|---|---|",
        ]
        for step in bpart["steps"]:
            cells = []
            for path in ("relay", "gateway"):
                p = step["paths"].get(path)
                if p is None:
                    cells.append("—")
                    continue
                last = median_attempt(p["attempts"])
                cells.append(
                    f"{last.get('p99_ms')} ms ({last['added_p99_ms']}) "
                    f"{'ok' if p['ok'] else 'over'}"
                )
            direct = step["direct"].get("p99_ms")
            out.append(f"| {step['sessions']} | {direct} ms | {cells[0]} | {cells[1]} |")
        ms = bpart["max_sessions"]
        out += [
            "",
            f"Max sessions within the limit: bare relay {ms['relay']}, gateway {ms['gateway']} "
            f"(ratio {bpart['ratio_gateway_over_relay']}). "
            + (
                f"Capped by the steps: {bpart['capped_by_steps']}. "
                if bpart["capped_by_steps"]
                else ""
            )
            + f"**{'PASS' if bpart['pass'] else 'FAIL'}** (gateway >= {STREAM_TARGET} and >= "
            f"{STREAM_SHARE:.0%} of the bare relay).",
        ]
        cost = bpart.get("cpu_us_per_chunk") or []
        if cost:
            out += [
                "",
                "CPU of the path's own server per chunk relayed (one message each way), over the "
                "measured window:",
                "",
                "| S | bare relay | gateway | gateway / relay | clients' cores busy |",
                "|---|---|---|---|---|",
            ]
            out += [
                f"| {c['sessions']} | {c['relay']} µs | {c['gateway']} µs | {c['ratio']}x | "
                f"{c['client_cores_busy']} |"
                for c in cost
            ]
            out += ["", f"Median gateway / relay CPU per chunk: {bpart['cpu_ratio_median']}x."]
        setup = [
            (s["sessions"], median_attempt(s["paths"]["gateway"]["attempts"]))
            for s in bpart["steps"]
            if "gateway" in s["paths"]
        ]
        if setup:
            out += [
                "",
                "Gateway session set-up (session.start until the first chunk is echoed), "
                "p50 / max ms: "
                + ", ".join(
                    f"S={n}: {a.get('setup_ms_p50')} / {a.get('setup_ms_max')}" for n, a in setup
                )
                + ".",
            ]
        if bpart.get("gateway_server_errors"):
            out += ["", "Errors the gateway logged:", ""]
            out += [
                f"- {count} x `{error}`" for error, count in bpart["gateway_server_errors"].items()
            ]
    return "\n".join(out) + "\n"
