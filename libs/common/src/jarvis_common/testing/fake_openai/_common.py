"""Helpers shared by the fake's realtime and HTTP halves: ids, audio bytes, words, waiting."""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import sys
import threading
from array import array
from collections.abc import Callable
from typing import TypeVar

from jarvis_common.testing.waiting import wait_for

T = TypeVar("T")

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # PCM16 mono at 24 kHz: 48 bytes per millisecond


class Ids:
    """Deterministic, unique ids shaped like the API's (`item_000001`, `resp_000002`...)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{next(self._counter):06d}"


@functools.lru_cache(maxsize=64)
def speech_pcm(ms: int, *, amplitude: int = 8000) -> bytes:
    """`ms` milliseconds of loud PCM16 (a 440 Hz tone): the fake's VAD hears it as speech."""
    samples = array(
        "h",
        (
            round(amplitude * math.sin(2 * math.pi * 440 * i / SAMPLE_RATE))
            for i in range(ms * SAMPLE_RATE // 1000)
        ),
    )
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def silence_pcm(ms: int) -> bytes:
    """`ms` milliseconds of PCM16 silence: the fake's VAD hears nobody speaking."""
    return bytes(ms * BYTES_PER_MS)


def peak(pcm: bytes) -> int:
    """The loudest absolute sample of a PCM16 little-endian buffer."""
    usable = len(pcm) - len(pcm) % 2
    if not usable:
        return 0
    values = array("h", pcm[:usable])
    if sys.byteorder == "big":
        values.byteswap()
    return max(max(values), -min(values))


def audio_ms(pcm_length: int) -> int:
    return pcm_length // BYTES_PER_MS


def words(text: str | None) -> int:
    return len(text.split()) if text else 0


def split_text(text: str, parts: int | None) -> list[str]:
    """Split `text` into deltas that concatenate back to it: one per word by default."""
    tokens = [t for t in text.split(" ")]
    pieces = [t if i == 0 else " " + t for i, t in enumerate(tokens)] if text else []
    if parts is None or parts >= len(pieces):
        return pieces or [""]
    size = math.ceil(len(pieces) / max(parts, 1))
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


async def wait_until(condition: Callable[[], T], *, timeout: float, message: str) -> T:
    """Poll a condition (also from another thread than the server's)."""
    return await wait_for(condition, timeout=timeout, interval=0.005, message=message)


async def sleep_unless(event: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `event` is set; True if the event interrupted the sleep."""
    if seconds <= 0:
        return event.is_set()
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
