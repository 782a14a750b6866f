"""The realtime script: what the fake answers, what it heard, how it fails.

These are plain values a test builds; `fake.realtime` (a `RealtimeFake`) holds them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from jarvis_common.testing.fake_openai.connection import RealtimeConnection

ABORT = 1006  # "close" code meaning: cut the TCP connection without a close frame


@dataclass(frozen=True)
class ErrorSpec:
    """The `error` object of an `error` event (or of a failed response / transcription)."""

    message: str
    code: str | None = None
    type: str = "invalid_request_error"
    param: str | None = None

    def body(self, event_id: str | None = None) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": event_id,
        }

    # The fatal ones: the gateway must end the session.
    @classmethod
    def invalid_api_key(cls, key: str | None = None) -> ErrorSpec:
        shown = f"{key[:4]}****{key[-4:]}" if key and len(key) > 8 else "****"
        return cls(f"Incorrect API key provided: {shown}.", "invalid_api_key")

    @classmethod
    def insufficient_quota(cls) -> ErrorSpec:
        return cls(
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            type="insufficient_quota",
        )

    @classmethod
    def session_expired(cls, minutes: int = 60) -> ErrorSpec:
        return cls(
            f"Your session hit the maximum duration of {minutes} minutes.", "session_expired"
        )

    # The benign ones: the socket stays open and the session goes on.
    @classmethod
    def response_already_active(cls, response_id: str = "resp_active") -> ErrorSpec:
        return cls(
            f"Conversation already has an active response in progress: {response_id}. "
            "Wait until the response is finished before creating a new one.",
            "conversation_already_has_active_response",
        )

    @classmethod
    def no_active_response(cls) -> ErrorSpec:
        return cls("Cancellation failed: no active response found", "response_cancel_not_active")

    @classmethod
    def server_error(cls) -> ErrorSpec:
        return cls("The server had an error while processing your request.", None, "server_error")


@dataclass(frozen=True)
class RealtimeUsage:
    """Token counts of one response, as `response.done` reports them."""

    input_text: int = 0
    input_audio: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    output_text: int = 0
    output_audio: int = 0

    def to_api(self) -> dict[str, Any]:
        input_tokens = self.input_text + self.input_audio
        output_tokens = self.output_text + self.output_audio
        return {
            "total_tokens": input_tokens + output_tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "input_token_details": {
                "text_tokens": self.input_text,
                "audio_tokens": self.input_audio,
                "image_tokens": 0,
                "cached_tokens": self.cached_text + self.cached_audio,
                "cached_tokens_details": {
                    "text_tokens": self.cached_text,
                    "audio_tokens": self.cached_audio,
                    "image_tokens": 0,
                },
            },
            "output_token_details": {
                "text_tokens": self.output_text,
                "audio_tokens": self.output_audio,
            },
        }


@dataclass(frozen=True)
class Answer:
    """One assistant response, as the fake streams it."""

    text: str
    modality: Literal["audio", "text"] | None = None  # None: the response's/session's modalities
    deltas: int | None = None  # how many deltas the text is cut into (default: one per word)
    delta_delay: float = 0.0  # seconds before each delta
    audio_ms_per_delta: int = 100  # PCM16 24 kHz audio sent with each transcript delta
    audio_first: bool = False  # each step's audio delta before its transcript delta (the API
    # does not order the two streams)
    usage: RealtimeUsage | None = None  # default: computed from the words and the audio
    fail: ErrorSpec | None = None  # the response ends `failed` with this error, no output
    drop_after: int | None = None  # after this many deltas the socket goes (mid-response)
    drop_code: int = ABORT  # how it goes: 1006 cuts TCP; 1001/1011/... send a close frame
    hold_until: asyncio.Event | None = None  # after the 1st delta, wait for it (or a cancel)


@dataclass(frozen=True)
class Transcript:
    """The input-audio transcription of one committed user audio turn."""

    text: str = "Hello."  # also what the "model" heard: answers are matched against it
    fail: ErrorSpec | None = None  # `...input_audio_transcription.failed` instead of completed
    delay: float = 0.0  # seconds before the transcription events
    after_response: bool = False  # hold them until the next `response.done` has been sent


@dataclass
class Fault:
    """When the client sends `on` (or on `"connect"`), answer with an error and/or a close."""

    on: str
    error: ErrorSpec | None = None
    close_code: int | None = None  # 1006 cuts TCP without a close frame
    times: int | None = 1  # None: every time
    skip: int = 0  # let this many matching events through first
    fired: int = 0
    _seen: int = 0

    def take(self, event_type: str) -> bool:
        if event_type != self.on or (self.times is not None and self.fired >= self.times):
            return False
        if self._seen < self.skip:
            self._seen += 1
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class TurnContext:
    """What an answer is chosen from."""

    user_text: str  # the last user item's text (for audio: the scripted transcript)
    instructions: str  # the response's instructions, else the session's
    response_instructions: str  # only the `response.create` instructions ("" when none)
    response: dict[str, Any]  # the `response` object of `response.create` ({} for VAD turns)
    connection: RealtimeConnection


Matcher = str | re.Pattern[str] | Callable[[TurnContext], bool]


@dataclass
class _Rule:
    when: Matcher
    answer: Answer | Callable[[TurnContext], Answer]
    times: int | None
    used: int = 0

    def matches(self, ctx: TurnContext) -> bool:
        if isinstance(self.when, str):
            return self.when.casefold() in ctx.user_text.casefold()
        if isinstance(self.when, re.Pattern):
            return self.when.search(ctx.user_text) is not None
        return bool(self.when(ctx))


def echo_answer(ctx: TurnContext) -> Answer:
    if ctx.user_text:
        return Answer(f"You said: {ctx.user_text}")
    return Answer("Hello! How can I help you?")
