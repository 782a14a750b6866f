"""summarizer's own metrics, beside the infrastructure's (`jarvis_summarizer_…`)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from jarvis_common.metrics import InfraMetrics


@dataclass
class SummarizerMetrics:
    summaries: Counter
    model_calls: Counter
    model_call_seconds: Histogram
    calls_in_flight: Gauge
    tokens: Counter
    cost_usd: Counter
    unpriced_calls: Counter

    @classmethod
    def register(cls, infra: InfraMetrics) -> SummarizerMetrics:
        p, r = infra.prefix, infra.registry
        return cls(
            summaries=Counter(
                f"{p}_summaries_total", "Summaries stored, by provider.", ["provider"], registry=r
            ),
            model_calls=Counter(
                f"{p}_model_calls_total",
                "OpenAI calls, by outcome (ok, malformed, truncated, refused, transient_error, "
                "permanent_error).",
                ["outcome"],
                registry=r,
            ),
            model_call_seconds=Histogram(
                f"{p}_model_call_seconds",
                "OpenAI call latency.",
                buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
                registry=r,
            ),
            calls_in_flight=Gauge(
                f"{p}_model_calls_in_flight", "Analyses running now.", registry=r
            ),
            tokens=Counter(
                f"{p}_model_tokens_total",
                "Tokens billed, by kind (input, cached_input, output).",
                ["kind"],
                registry=r,
            ),
            cost_usd=Counter(f"{p}_model_cost_usd_total", "Model cost in USD.", registry=r),
            unpriced_calls=Counter(
                f"{p}_model_unpriced_calls_total",
                "Calls to a model missing from the price table (cost recorded as 0).",
                registry=r,
            ),
        )
