"""A session's conversation as it happens: items in conversation order, their text, and how much
of each assistant item's audio reached the kiosk.

Order comes from the item chain (each item names the one before it), not from arrival: a user's
transcript often arrives after the assistant has answered. A user item without a transcript when
the session ends is stored with the explicit "transcription failed" marker. When the member talks
over the assistant, the assistant's item is cut to the words that were played.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from jarvis_common.events.catalogue import TranscriptItem
from session_gateway.providers import HistoryItem

BYTES_PER_MS = 24_000 * 2 / 1000  # PCM16 mono at 24 kHz


def audio_ms(audio_b64: str) -> float:
    padding = len(audio_b64) - len(audio_b64.rstrip("="))
    return (len(audio_b64) * 3 // 4 - padding) / BYTES_PER_MS


@dataclass
class Item:
    role: Literal["user", "assistant"]
    previous: str | None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    deltas: list[tuple[float, str]] = field(default_factory=list)  # (audio ms before, text)
    text: str | None = None  # final text, once known
    failed: bool = False
    audio_ms: float = 0.0  # assistant audio relayed to the kiosk
    truncated_at_ms: int | None = None

    @property
    def partial_text(self) -> str:
        return "".join(text for _, text in self.deltas)

    @property
    def complete(self) -> bool:
        return self.text is not None


class Transcript:
    def __init__(self) -> None:
        self._items: dict[str, Item] = {}
        self._arrival: list[str] = []

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    @property
    def last_id(self) -> str | None:
        ordered = self.ordered_ids()
        return ordered[-1] if ordered else None

    def add(self, item_id: str, previous: str | None, role: Literal["user", "assistant"]) -> bool:
        if item_id in self._items:
            return False
        self._items[item_id] = Item(role=role, previous=previous)
        self._arrival.append(item_id)
        return True

    def _ensure(self, item_id: str, role: Literal["user", "assistant"]) -> Item:
        # an item the provider never announced still belongs to the transcript, after the rest
        if item_id not in self._items:
            self.add(item_id, self.last_id, role)
        return self._items[item_id]

    def user_said(self, item_id: str, text: str, *, failed: bool = False) -> None:
        item = self._ensure(item_id, "user")
        item.text, item.failed = text, failed

    def assistant_delta(self, item_id: str, delta: str) -> None:
        item = self._ensure(item_id, "assistant")
        if item.truncated_at_ms is None:
            item.deltas.append((item.audio_ms, delta))

    def assistant_done(self, item_id: str, text: str) -> None:
        item = self._ensure(item_id, "assistant")
        if item.truncated_at_ms is None:
            item.text = text
        elif item.text is None:
            item.text = item.partial_text

    def assistant_audio(self, item_id: str, audio_b64: str) -> None:
        item = self._ensure(item_id, "assistant")
        item.audio_ms += audio_ms(audio_b64)

    def truncate(self, item_id: str, played_ms: int) -> int | None:
        """Cut an assistant item to what was played; the audio end to tell the provider."""
        item = self._items.get(item_id)
        if item is None or item.role != "assistant" or item.audio_ms <= 0:
            return None
        end_ms = max(0, min(int(played_ms), int(item.audio_ms)))
        item.truncated_at_ms = end_ms
        item.deltas = [(at, text) for at, text in item.deltas if at < end_ms]
        item.text = item.partial_text
        return end_ms

    def ordered_ids(self) -> list[str]:
        """Item ids in conversation order: follow the chain from its start; items whose
        predecessor is unknown come after, in arrival order, never dropped."""
        after: dict[str | None, list[str]] = {}
        for item_id in self._arrival:
            after.setdefault(self._items[item_id].previous, []).append(item_id)
        ordered: list[str] = []
        seen: set[str] = set()
        roots = [i for i in self._arrival if self._items[i].previous not in self._items]
        stack = list(reversed(roots[:1]))
        rest = roots[1:]
        while True:
            while stack:
                item_id = stack.pop()
                if item_id in seen:
                    continue
                seen.add(item_id)
                ordered.append(item_id)
                stack.extend(reversed(after.get(item_id, [])))
            if not rest:
                break
            stack.append(rest.pop(0))
        ordered += [i for i in self._arrival if i not in seen]
        return ordered

    def history(self) -> list[HistoryItem]:
        result = []
        for item_id in self.ordered_ids():
            item = self._items[item_id]
            text = item.text if item.text is not None else item.partial_text
            result.append(
                HistoryItem(
                    item_id=item_id,
                    role=item.role,
                    text=text,
                    incomplete=item.role == "assistant" and not item.complete,
                )
            )
        return result

    def final(self) -> tuple[TranscriptItem, ...]:
        """The stored transcript: every user turn has its text or the failure marker."""
        items = []
        for item_id in self.ordered_ids():
            item = self._items[item_id]
            if item.role == "user":
                failed = item.failed or item.text is None
                text = item.text or ""
            else:
                failed, text = False, item.text if item.text is not None else item.partial_text
                if not text:
                    continue  # an answer cut before any of it was said
            items.append(
                TranscriptItem(
                    item_id=item_id,
                    role=item.role,
                    text=text,
                    transcription_failed=failed,
                    at=item.at,
                )
            )
        return tuple(items)
