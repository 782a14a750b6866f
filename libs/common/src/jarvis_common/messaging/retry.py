"""Where a failed message goes next, and the headers that travel with it.

A transient failure is republished to the consumer group's own retry topic
(`<topic>.retry.<group>`) with a due time that grows with each attempt, and the original offset
is committed: the partition keeps moving. A permanent failure, or one that used up its
attempts, goes to `<topic>.dlq` with the original bytes and headers saying where it came from.
The trade-off: a retried event is applied after later events with the same key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from jarvis_common.settings import PlatformSettings

H_ATTEMPT = "x-attempt"
H_DUE_AT = "x-due-at"
H_ORIGINAL_TOPIC = "x-original-topic"
H_ORIGINAL_PARTITION = "x-original-partition"
H_ORIGINAL_OFFSET = "x-original-offset"
H_ERROR = "x-error"
H_ERROR_TYPE = "x-error-type"
H_GROUP = "x-consumer-group"
H_FAILED_AT = "x-failed-at"
ROUTING_HEADERS = frozenset(
    {
        H_ATTEMPT,
        H_DUE_AT,
        H_ORIGINAL_TOPIC,
        H_ORIGINAL_PARTITION,
        H_ORIGINAL_OFFSET,
        H_ERROR,
        H_ERROR_TYPE,
        H_GROUP,
        H_FAILED_AT,
    }
)

Headers = list[tuple[str, bytes]]


def retry_topic(topic: str, group: str) -> str:
    return f"{topic}.retry.{group}"


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_delay_s: float = 1.0
    max_delay_s: float = 300.0
    multiplier: float = 4.0

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.retry_max_attempts,
            initial_delay_s=settings.retry_initial_delay_s,
            max_delay_s=settings.retry_max_delay_s,
        )

    def delay_after(self, attempts: int) -> float:
        """Seconds to wait before attempt `attempts + 1`."""
        return min(self.max_delay_s, self.initial_delay_s * self.multiplier ** (attempts - 1))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


def header(headers: Headers | tuple[tuple[str, bytes], ...] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode(errors="replace") if value is not None else None
    return None


def int_header(headers: Headers | tuple[tuple[str, bytes], ...] | None, name: str) -> int:
    """A numeric routing header; a malformed one (another producer's) counts as absent."""
    try:
        return int(header(headers, name) or 0)
    except (ValueError, UnicodeDecodeError):
        return 0


def without_routing(headers: Headers | tuple[tuple[str, bytes], ...] | None) -> Headers:
    return [(k, v) for k, v in headers or () if k not in ROUTING_HEADERS]


def now_ms() -> int:
    return int(time.time() * 1000)
