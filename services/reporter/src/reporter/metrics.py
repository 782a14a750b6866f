"""reporter's domain metrics, on the service's registry (`/metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class ReporterMetrics:
    def __init__(self, prefix: str, registry: CollectorRegistry) -> None:
        self.reports = Counter(
            f"{prefix}_reports_generated_total",
            "Reports generated, by scope and outcome (new_or_changed, unchanged).",
            ["scope", "outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            f"{prefix}_deliveries_total",
            "Report e-mails by outcome (sent, failed, skipped).",
            ["outcome"],
            registry=registry,
        )
        self.jobs = Counter(
            f"{prefix}_jobs_total",
            "Report jobs finished, by outcome (done, retried, deferred, failed).",
            ["outcome"],
            registry=registry,
        )
        self.generate_seconds = Histogram(
            f"{prefix}_generate_seconds",
            "Time to compute and store one report.",
            registry=registry,
        )
        self.render_seconds = Histogram(
            f"{prefix}_render_seconds",
            "Time to render one report (HTML, charts, PDF, CSV).",
            registry=registry,
        )
