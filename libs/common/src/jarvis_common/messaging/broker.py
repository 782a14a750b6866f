"""Kafka clients configured the one way the platform relies on.

The embedded broker (Tansu) does not support the idempotent producer or transactions, so the
producer is plain `acks=all`; duplicates that this allows are absorbed by idempotent consumers.
aiokafka sends at most one batch per partition at a time, so per-key order survives retries.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy

from jarvis_common.settings import PlatformSettings


def make_producer(settings: PlatformSettings, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
        retry_backoff_ms=200,
    )


def make_consumer(settings: PlatformSettings, *topics: str, **kwargs: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kwargs,
    )


def make_broker(settings: PlatformSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        graceful_timeout=settings.shutdown_grace_s,
        request_timeout_ms=15_000,
        # Through the root handler, so FastStream's lines are JSON like ours.
        logger=logging.getLogger("faststream"),
    )


def subscribe_batches(
    broker: KafkaBroker,
    topics: list[str],
    *,
    group_id: str,
    ack_policy: AckPolicy,
    max_records: int,
    session_timeout_ms: int = 10_000,
    max_poll_interval_ms: int = 300_000,
    title: str | None = None,
    description: str | None = None,
) -> Any:
    """Declare a batch subscriber whose ack policy the caller must choose.

    Deliberately no default: FastStream's Kafka default (ACK_FIRST with auto-commit) loses the
    message when a handler dies, and NACK_ON_ERROR alone redelivers a poison message forever.
    New consumer groups start from the earliest offset so nothing published before their first
    start is skipped.
    """
    return broker.subscriber(
        *topics,
        group_id=group_id,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(100, session_timeout_ms // 10),
        max_poll_interval_ms=max_poll_interval_ms,
        # aiokafka's 1 MiB per partition caps a fetch at ~1,700 small events: too few to fill
        # the batches throughput handlers are written for.
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=100,
        auto_offset_reset="earliest",
        ack_policy=ack_policy,
        title=title,
        description=description,
    )
