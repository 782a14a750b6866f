"""The small interface a conversation provider implements (offline assistant today, OpenAI
Realtime later), and the events it emits.

The session manager owns the kiosk side (protocol, transcript, lifecycle, persistence); a
provider only turns user input into assistant output. Item ids are chosen by the session, so a
provider that replays a conversation into a new upstream session keeps the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from jarvis_common.events.catalogue import KioskConfig, TokenUsage


@dataclass(frozen=True)
class MemberContext:
    member_id: uuid.UUID | None = None


@dataclass(frozen=True)
class AssistantTextDelta:
    item_id: str
    delta: str


@dataclass(frozen=True)
class AssistantTextDone:
    item_id: str
    text: str


@dataclass(frozen=True)
class UserTranscript:
    """What the member said (for text input: the text itself), for the item `item_id`."""

    item_id: str
    text: str
    transcription_failed: bool = False


@dataclass(frozen=True)
class UsageReport:
    """Tokens used by one response; the session sums them."""

    usage: TokenUsage


@dataclass(frozen=True)
class ProviderFatal:
    """The provider cannot continue (invalid key, no quota): the session ends `upstream_fatal`."""

    message: str


ProviderEvent = (
    AssistantTextDelta | AssistantTextDone | UserTranscript | UsageReport | ProviderFatal
)


class ConversationProvider(Protocol):
    name: str

    async def start(self, config: KioskConfig, member: MemberContext) -> None: ...

    async def send_user_text(self, item_id: str, text: str, reply_item_id: str) -> None:
        """The member typed/said `text` (item `item_id`); answer in item `reply_item_id`."""
        ...

    def events(self) -> AsyncIterator[ProviderEvent]:
        """Everything the provider emits, in order, until close()."""
        ...

    async def close(self) -> None: ...
