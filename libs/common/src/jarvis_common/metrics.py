"""Prometheus metrics for the infrastructure every service runs.

Each service gets its own registry and the `jarvis_<service>_` prefix. Labels are bounded:
topics come from the event catalogue, routes are path templates, outcomes are a fixed set.
Services declare their domain metrics in their own `metrics` module against `registry`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class InfraMetrics:
    def __init__(self, service: str):
        self.prefix = "jarvis_" + service.replace("-", "_")
        self.registry = CollectorRegistry(auto_describe=True)
        p, r = self.prefix, self.registry
        self.events_consumed = Counter(
            f"{p}_events_consumed_total",
            "Events taken from the broker, by outcome "
            "(processed, duplicate, retried, dead_lettered).",
            ["topic", "outcome"],
            registry=r,
        )
        self.consume_batch_seconds = Histogram(
            f"{p}_consume_batch_seconds",
            "Time to process one batch of consumed events, transaction included.",
            ["topic"],
            registry=r,
        )
        self.outbox_published = Counter(
            f"{p}_outbox_published_total",
            "Outbox events acknowledged by the broker.",
            ["topic"],
            registry=r,
        )
        self.outbox_publish_failures = Counter(
            f"{p}_outbox_publish_failures_total",
            "Relay rounds that could not publish (broker unreachable); the rows are kept.",
            registry=r,
        )
        self.outbox_pending = Gauge(
            f"{p}_outbox_pending", "Outbox rows not yet acknowledged by the broker.", registry=r
        )
        self.http_requests = Counter(
            f"{p}_http_requests_total",
            "HTTP requests served.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_request_seconds = Histogram(
            f"{p}_http_request_seconds", "HTTP request latency.", ["method", "route"], registry=r
        )
