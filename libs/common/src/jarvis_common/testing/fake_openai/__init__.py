"""A local fake of the OpenAI API for tests: the real `openai` SDK talks to it over loopback.

- `FakeOpenAI`: the server (`async with FakeOpenAI() as fake`), with `fake.realtime` (the
  Realtime WebSocket) and `fake.http` (chat completions and responses).
- Realtime script: `Answer`, `Transcript`, `RealtimeUsage`, `ErrorSpec`, `Fault`, `TurnContext`.
- HTTP script: `Reply`, `HttpUsage`; the record: `RecordedRequest`, `RealtimeConnection`.
- Audio for the fake's VAD: `speech_pcm(ms)`, `silence_pcm(ms)` (PCM16, 24 kHz).

How to use it: docs/testing.md.
"""

from jarvis_common.testing.fake_openai._common import (
    BYTES_PER_MS,
    SAMPLE_RATE,
    silence_pcm,
    speech_pcm,
)
from jarvis_common.testing.fake_openai.connection import RealtimeConnection
from jarvis_common.testing.fake_openai.http import HttpFake, HttpUsage, RecordedRequest, Reply
from jarvis_common.testing.fake_openai.realtime import RealtimeFake
from jarvis_common.testing.fake_openai.script import (
    ABORT,
    Answer,
    ErrorSpec,
    Fault,
    RealtimeUsage,
    Transcript,
    TurnContext,
    echo_answer,
)
from jarvis_common.testing.fake_openai.server import FakeOpenAI

__all__ = [
    "ABORT",
    "BYTES_PER_MS",
    "SAMPLE_RATE",
    "Answer",
    "ErrorSpec",
    "FakeOpenAI",
    "Fault",
    "HttpFake",
    "HttpUsage",
    "RealtimeConnection",
    "RealtimeFake",
    "RealtimeUsage",
    "RecordedRequest",
    "Reply",
    "Transcript",
    "TurnContext",
    "echo_answer",
    "silence_pcm",
    "speech_pcm",
]
