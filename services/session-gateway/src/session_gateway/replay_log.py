"""The messages a session sent its kiosk, numbered, kept so a kiosk that reconnects gets exactly
what it missed. A kiosk that acknowledges what it received lets the log forget it at once;
otherwise the log is bounded by count and by bytes (assistant audio is most of the bytes), and the
oldest go first. Messages are kept as the JSON text sent, so each is encoded once.

Numbers are consecutive, so only the texts are kept (their numbers follow from `last_seq`): a
number and text kept as a pair would be one more object per message for the garbage collector
to track. Ten a second per session, long-lived, those pairs made the full collections that
stalled a gateway streaming to 700 kiosks for up to 100 ms."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import Any

from session_gateway.protocol import audio_delta_text, encode


class ReplayLog:
    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.last_seq = 0
        self._texts: deque[str] = deque()  # numbered first_seq .. last_seq
        self._bytes = 0

    def append(self, message: dict[str, Any]) -> str:
        """Number the message (its `seq`), keep it, and return it encoded for the kiosk."""
        self.last_seq += 1
        message["seq"] = self.last_seq
        return self._keep(encode(message))

    def append_audio(self, item_id: str, audio: str) -> str:
        """`append` of a `response.audio.delta` (most messages), without building one."""
        self.last_seq += 1
        return self._keep(audio_delta_text(item_id, audio, self.last_seq))

    def _keep(self, text: str) -> str:
        texts = self._texts
        texts.append(text)
        self._bytes += len(text)
        while texts and (len(texts) > self.max_messages or self._bytes > self.max_bytes):
            self._bytes -= len(texts.popleft())
        return text

    def forget_through(self, seq: int) -> None:
        """The kiosk has every message up to `seq`: a resume will not ask for them again."""
        texts = self._texts
        for _ in range(min(seq - self.first_seq + 1, len(texts))):
            self._bytes -= len(texts.popleft())

    @property
    def first_seq(self) -> int:
        """The oldest seq still held (last_seq + 1 when empty)."""
        return self.last_seq - len(self._texts) + 1

    def after(self, seq: int) -> Iterator[str]:
        return islice(self._texts, max(0, seq - self.first_seq + 1), None)
