"""Messages of the kiosk WebSocket protocol (see docs/kiosk-protocol.md).

Every message is a JSON object with a `type`. Kiosk → gateway messages are validated here; a
message that is not valid gets an `error` message back and the connection stays open.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class KioskMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Heartbeat(KioskMessage):
    type: Literal["heartbeat"]
    status: Literal["ok", "degraded", "error"] = "ok"
    sent_at: datetime | None = None
    hardware_info: dict[str, Any] = Field(default_factory=dict)
    last_error: str | None = Field(default=None, max_length=2000)


class SessionStart(KioskMessage):
    type: Literal["session.start"]
    member_id: UUID | None = None


class Text(KioskMessage):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=4000)


class SessionEnd(KioskMessage):
    type: Literal["session.end"]


class SessionResume(KioskMessage):
    type: Literal["session.resume"]
    session_id: UUID
    # the `seq` of the last session message the kiosk received; everything after it is replayed
    last_seen_seq: int = Field(default=0, ge=0)


class Ack(KioskMessage):
    """Every session message up to `seq` arrived: the gateway need not keep it for a resume."""

    type: Literal["ack"]
    seq: int = Field(ge=0)


MAX_AUDIO_CHARS = 200_000  # about 3 s of audio per message


class AudioAppend(KioskMessage):
    type: Literal["audio.append"]
    # base64 of PCM16 mono 24 kHz little-endian samples; checked by is_base64
    audio: str = Field(min_length=4, max_length=MAX_AUDIO_CHARS)


class PlaybackStopped(KioskMessage):
    """The kiosk stopped playing an assistant item (the member talked over it)."""

    type: Literal["playback.stopped"]
    item_id: str = Field(min_length=1, max_length=64)
    played_ms: int = Field(ge=0)


Inbound = (
    Heartbeat
    | SessionStart
    | Text
    | SessionEnd
    | SessionResume
    | Ack
    | AudioAppend
    | PlaybackStopped
)
INBOUND: TypeAdapter[Inbound] = TypeAdapter(Annotated[Inbound, Field(discriminator="type")])
KNOWN_TYPES = frozenset(
    {
        "heartbeat",
        "session.start",
        "text",
        "session.end",
        "session.resume",
        "ack",
        "audio.append",
        "playback.stopped",
    }
)

# Close codes (4000-4999 are the application's own).
CLOSE_UNAUTHORIZED = 4401  # no token, or an invalid or expired one
CLOSE_REVOKED = 4403  # the kiosk was revoked, or the gateway does not know it
CLOSE_TRY_AGAIN = 1013  # the gateway cannot check the kiosk right now: reconnect with backoff
MAX_MESSAGE_BYTES = 256 * 1024


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


# --- the audio hot path -------------------------------------------------------------------
# A session moves ten audio messages a second each way, 6 KB of base64 each. These helpers keep
# that audio out of the JSON parser and encoder: it is checked once for being base64 (which
# also proves it holds no character JSON would escape) and spliced as is.

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_AUDIO_APPEND_HEAD = re.compile(r'\s*\{\s*"type"\s*:\s*"audio\.append"\s*,\s*"audio"\s*:\s*"')


def is_base64(value: str) -> bool:
    """Padded base64: deleting the alphabet leaves nothing (several times cheaper than
    decoding, which the gateway does not need)."""
    return value.isascii() and is_base64_bytes(value.encode("ascii"))


def is_base64_bytes(value: bytes) -> bool:
    if len(value) % 4:
        return False
    data = value.rstrip(b"=")
    return len(value) - len(data) <= 2 and not data.translate(None, _BASE64_ALPHABET)


def audio_append_audio(raw: str) -> str | None:
    """The audio of an `audio.append` written `{"type": "audio.append", "audio": "..."}` (with
    or without spaces), if it is base64; None for anything else, which is parsed as JSON."""
    head = _AUDIO_APPEND_HEAD.match(raw)
    if head is None:
        return None
    end = raw.rfind('"')
    if end < head.end() or raw[end + 1 :].strip() != "}":
        return None
    audio = raw[head.end() : end]
    # base64 has no quote or backslash: the text between the quotes is the whole JSON string
    return audio if is_base64(audio) else None


def audio_delta_text(item_id: str, audio: str, seq: int) -> str:
    """The kiosk's `response.audio.delta`, written directly: `audio` is base64 already (the
    provider checks what it relays), so only the item id needs JSON quoting."""
    return (
        '{"type":"response.audio.delta","item_id":'
        + json.dumps(item_id)
        + ',"audio":"'
        + audio
        + '","seq":'
        + str(seq)
        + "}"
    )


def encode(message: dict[str, Any]) -> str:
    """A message to the kiosk as compact JSON (assistant audio, the bulk, is written by
    `audio_delta_text` instead). Always valid UTF-8: a lone surrogate (an upstream text can
    carry one, escaped) is written escaped, where UTF-8 cannot hold it."""
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return json.dumps(message, separators=(",", ":"))
    return text
