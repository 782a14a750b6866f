"""The scheduler's own metrics, beside the infrastructure's in the service's registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from jarvis_common.metrics import InfraMetrics


@dataclass(frozen=True)
class SchedulerMetrics:
    last_slot: Gauge
    ticks: Counter
    skipped: Counter
    round_failures: Counter

    @classmethod
    def register(cls, infra: InfraMetrics) -> SchedulerMetrics:
        p, r = infra.prefix, infra.registry
        return cls(
            last_slot=Gauge(
                f"{p}_last_slot_timestamp_seconds",
                "The latest slot published per schedule (Unix time), by any replica.",
                ["job"],
                registry=r,
            ),
            ticks=Counter(
                f"{p}_ticks_total",
                "Ticks this replica recorded for publishing, by origin (schedule, operator) "
                "and whether they were late.",
                ["job", "origin", "late"],
                registry=r,
            ),
            skipped=Counter(
                f"{p}_skipped_slots_total",
                "Missed slots older than the catch-up window: never published, logged.",
                ["job"],
                registry=r,
            ),
            round_failures=Counter(
                f"{p}_round_failures_total",
                "Scheduling rounds that failed (database unreachable...); retried.",
                registry=r,
            ),
        )
