"""The messages a session sent its kiosk, numbered, kept so a kiosk that reconnects gets exactly
what it missed. Bounded by count and by bytes (assistant audio is most of the bytes); the oldest
go first."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

_SMALL = 200  # what a message without audio roughly costs


class ReplayLog:
    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.last_seq = 0
        self._messages: deque[tuple[dict[str, Any], int]] = deque()
        self._bytes = 0

    def append(self, message: dict[str, Any]) -> dict[str, Any]:
        self.last_seq += 1
        message["seq"] = self.last_seq
        audio = message.get("audio")
        size = (len(audio) if isinstance(audio, str) else 0) + _SMALL
        self._messages.append((message, size))
        self._bytes += size
        while self._messages and (
            len(self._messages) > self.max_messages or self._bytes > self.max_bytes
        ):
            _, dropped = self._messages.popleft()
            self._bytes -= dropped
        return message

    @property
    def first_seq(self) -> int:
        """The oldest seq still held (last_seq + 1 when empty)."""
        return self._messages[0][0]["seq"] if self._messages else self.last_seq + 1

    def after(self, seq: int) -> Iterator[dict[str, Any]]:
        for message, _ in self._messages:
            if message["seq"] > seq:
                yield message
