"""Read a topic back from the broker from its first offset, to assert on what was published.

No consumer group is used, so nothing is committed and the services' own groups are untouched.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from jarvis_common.events import Envelope, decode_event
from jarvis_common.settings import PlatformSettings
from jarvis_common.testing.waiting import wait_for


async def read_records(
    settings: PlatformSettings, topic: str, *, at_least: int | None = None, timeout: float = 30.0
) -> list[ConsumerRecord[Any, Any]]:
    """The raw records on `topic` (with their headers), from the first offset.

    Without `at_least`: what the topic holds now, partition by partition; a topic that does not
    exist yet holds nothing. With `at_least`: wait until that many have arrived, for events
    still on their way (more may be returned); fail after `timeout` seconds.
    """
    if at_least is None:
        return await _read_to_end(settings, topic)
    return await _read_at_least(settings, topic, at_least, timeout)


async def read_events(
    settings: PlatformSettings, topic: str, *, at_least: int | None = None, timeout: float = 30.0
) -> list[Envelope[Any]]:
    """`read_records`, decoded into envelopes."""
    records = await read_records(settings, topic, at_least=at_least, timeout=timeout)
    return [decode_event(record.value) for record in records]


async def _read_to_end(settings: PlatformSettings, topic: str) -> list[ConsumerRecord[Any, Any]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # fresh metadata: the topic may have been created since start
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # The end offsets taken now bound the read, so it finishes even if more keeps arriving.
        ends = await consumer.end_offsets(tps)
        records: list[ConsumerRecord[Any, Any]] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                records.extend(batch.get(tp, []))
        return records
    finally:
        await consumer.stop()


async def _read_at_least(
    settings: PlatformSettings, topic: str, count: int, timeout: float
) -> list[ConsumerRecord[Any, Any]]:
    # Subscribing (rather than assigning partitions) also works while the topic does not exist
    # yet, as a dead-letter topic before its first letter; "earliest" starts it from offset 0.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:

        async def enough() -> bool:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            return len(records) >= count

        await wait_for(enough, timeout=timeout, message=f"{count} records on {topic}")
    finally:
        await consumer.stop()
    return records
