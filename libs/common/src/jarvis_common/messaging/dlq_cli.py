"""`jarvis-dlq`: list a dead-letter topic, and replay what is in it.

    jarvis-dlq list session.closed
    jarvis-dlq replay session.closed                 # every dead letter
    jarvis-dlq replay session.closed --offset 0:12   # one, by dlq partition:offset

Replaying republishes the original bytes, key and headers to the original topic. Every consumer
group on that topic sees the event again; the ones that had applied it deduplicate it by event
id, so replaying twice is harmless.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from jarvis_common.messaging import retry as r
from jarvis_common.messaging.broker import make_producer
from jarvis_common.settings import PlatformSettings


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        return r.header(self.headers, name)

    @property
    def original_topic(self) -> str:
        return self.header(r.H_ORIGINAL_TOPIC) or ""

    def describe(self) -> dict[str, object]:
        failed_ms = self.header(r.H_FAILED_AT)
        return {
            "dlq_position": f"{self.partition}:{self.offset}",
            "original": f"{self.original_topic}[{self.header(r.H_ORIGINAL_PARTITION)}]"
            f"@{self.header(r.H_ORIGINAL_OFFSET)}",
            "group": self.header(r.H_GROUP),
            "attempts": int(self.header(r.H_ATTEMPT) or 0),
            "error": self.header(r.H_ERROR),
            "failed_at": datetime.fromtimestamp(int(failed_ms) / 1000, UTC).isoformat()
            if failed_ms
            else None,
            "key": self.key.decode(errors="replace") if self.key else None,
            "value": self.value[:500].decode(errors="replace"),
        }


def dlq_name(topic: str) -> str:
    return topic if topic.endswith(".dlq") else r.dlq_topic(topic)


async def read_dead_letters(settings: PlatformSettings, topic: str) -> list[DeadLetter]:
    """Everything currently in the DLQ, read without a consumer group (nothing is committed)."""
    name = dlq_name(topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(name)
        if not partitions:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(name) or set()
        tps = [TopicPartition(name, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        letters: list[DeadLetter] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(*tps, timeout_ms=1000)
            for records in batches.values():
                for rec in records:
                    if rec.offset < end[TopicPartition(rec.topic, rec.partition)]:
                        letters.append(
                            DeadLetter(
                                rec.partition,
                                rec.offset,
                                rec.key,
                                rec.value,
                                tuple(rec.headers or ()),
                            )
                        )
        return sorted(letters, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def replay(
    settings: PlatformSettings, topic: str, positions: set[tuple[int, int]] | None = None
) -> int:
    letters = [
        d
        for d in await read_dead_letters(settings, topic)
        if positions is None or (d.partition, d.offset) in positions
    ]
    producer = make_producer(settings, client_id="jarvis-dlq")
    await producer.start()
    try:
        sent = [
            await producer.send(
                d.original_topic, d.value, key=d.key, headers=r.without_routing(d.headers)
            )
            for d in letters
            if d.original_topic
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return len(sent)


def _position(text: str) -> tuple[int, int]:
    partition, _, offset = text.partition(":")
    return int(partition), int(offset)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jarvis-dlq", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="print the dead letters of a topic as JSON lines")
    listing.add_argument("topic")
    again = sub.add_parser("replay", help="republish dead letters to their original topic")
    again.add_argument("topic")
    again.add_argument(
        "--offset",
        action="append",
        type=_position,
        metavar="PARTITION:OFFSET",
        help="only these dead letters (repeatable); default: all",
    )
    args = parser.parse_args(argv)
    settings = PlatformSettings()
    if args.command == "list":
        letters = asyncio.run(read_dead_letters(settings, args.topic))
        for letter in letters:
            print(json.dumps(letter.describe(), ensure_ascii=False))
        print(f"{len(letters)} dead letter(s) in {dlq_name(args.topic)}", file=sys.stderr)
    else:
        count = asyncio.run(replay(settings, args.topic, set(args.offset) if args.offset else None))
        print(f"replayed {count} dead letter(s) from {dlq_name(args.topic)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
