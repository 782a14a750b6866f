"""The interface a conversation provider implements (the offline assistant, the OpenAI Realtime
relay), and the events it emits.

The session (session_manager.py) owns the kiosk side and the transcript; a provider turns the
member's input into assistant output. The provider reports the conversation's items as they are
created, each with the item before it, so the session orders the transcript by that chain rather
than by arrival. A provider that has to start a new upstream conversation replays the session's
`history` into it, keeping the item ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from jarvis_common.events.catalogue import KioskConfig, TokenUsage


@dataclass(frozen=True)
class MemberContext:
    member_id: uuid.UUID | None = None
    first_name: str | None = None
    status: str | None = None
    contract_type: str | None = None
    contract_ends_at: str | None = None


@dataclass(frozen=True)
class HistoryItem:
    """One item of the conversation so far, as a new upstream session must be told it."""

    item_id: str
    role: Literal["user", "assistant"]
    text: str
    # an assistant item whose response was cut by a dropped connection
    incomplete: bool = False


History = Callable[[], Sequence[HistoryItem]]


@dataclass(frozen=True)
class ItemAdded:
    item_id: str
    previous_item_id: str | None
    role: Literal["user", "assistant"]


@dataclass(frozen=True)
class UserTranscript:
    """What the member said in item `item_id` (for typed input: the text itself)."""

    item_id: str
    text: str
    transcription_failed: bool = False


@dataclass(frozen=True)
class AssistantTextDelta:
    item_id: str
    delta: str


@dataclass(frozen=True)
class AssistantTextDone:
    item_id: str
    text: str


@dataclass(frozen=True)
class AssistantAudioDelta:
    item_id: str
    audio: str  # base64 PCM16 24 kHz mono, checked by the provider, relayed as received


@dataclass(frozen=True)
class AssistantAudioDone:
    item_id: str


@dataclass(frozen=True)
class SpeechStarted:
    """The member started talking (voice activity, not microphone noise)."""


@dataclass(frozen=True)
class SpeechStopped:
    pass


@dataclass(frozen=True)
class UsageReport:
    """Tokens used by one response or one transcription; the session sums them."""

    usage: TokenUsage


@dataclass(frozen=True)
class ProviderFatal:
    """The provider cannot continue (invalid key, no quota, unreachable): the session ends."""

    code: str
    message: str


ProviderEvent = (
    ItemAdded
    | UserTranscript
    | AssistantTextDelta
    | AssistantTextDone
    | AssistantAudioDelta
    | AssistantAudioDone
    | SpeechStarted
    | SpeechStopped
    | UsageReport
    | ProviderFatal
)


class ConversationProvider(Protocol):
    # the model that answers, as recorded on the session, and the one that transcribes
    name: str
    transcription_model: str | None
    # whether audio.append makes sense (the offline assistant only reads text)
    accepts_audio: bool

    async def start(self, config: KioskConfig, member: MemberContext, history: History) -> None:
        """Open the conversation. Raises ProviderUnavailable if it cannot."""
        ...

    async def send_user_text(self, text: str) -> None: ...

    async def append_audio(self, audio: str) -> None: ...

    def append_audio_now(self, audio: str) -> bool:
        """append_audio without awaiting, if the provider can send at once (True); else it
        does nothing and returns False."""
        ...

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        """The kiosk stopped playing `item_id` after `audio_end_ms`: forget the unheard rest."""
        ...

    async def wrap_up(self, instructions: str) -> None:
        """Ask for one last assistant turn (the spoken goodbye); returns once it is done."""
        ...

    async def run(
        self,
        deliver: Callable[[ProviderEvent], Awaitable[None]],
        deliver_now: Callable[[ProviderEvent], bool] | None = None,
    ) -> None:
        """Deliver everything the provider emits, in order, until close() has finished; returns
        then. Each event is delivered before the next is read, so a session's state is never
        behind what was received (a reconnect replays it). A provider may offer an event to
        `deliver_now` first, when nothing is waiting to be delivered before it: True means the
        session took it at once."""
        ...

    async def close(self, grace_s: float) -> None:
        """End the conversation, after waiting up to `grace_s` for transcripts still due."""
        ...


class ProviderUnavailable(Exception):
    """The conversation could not be opened (upstream refused or unreachable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
