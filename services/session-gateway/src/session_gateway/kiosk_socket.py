"""The kiosk WebSocket: authentication, and the messages the gateway understands so far.

A kiosk connects with the access token the registry signed (`Authorization: Bearer <token>`,
or `?access_token=` for clients that cannot set headers). The gateway verifies it offline with
the registry's public key and checks its own kiosk directory: an unknown or revoked kiosk is
refused. Heartbeats are published as `kiosk.heartbeat` through the outbox. Session messages
are handed to the SessionManager (session_manager.py).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError

from jarvis_common.service import ServiceApp
from jarvis_common.tokens import KIOSK_AUDIENCE, InvalidToken
from jarvis_common.ws_protocol import text_channel
from session_gateway import protocol as p
from session_gateway.kiosk_directory import KnownKiosk
from session_gateway.live_session import LiveSession
from session_gateway.session_manager import Connection, manager_of

log = logging.getLogger(__name__)
router = APIRouter()


def _token(ws: WebSocket) -> str | None:
    scheme, _, value = ws.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return value
    return ws.query_params.get("access_token")


async def authenticate(app: ServiceApp, ws: WebSocket) -> KnownKiosk | int:
    """The kiosk behind this connection, or the close code to refuse it with."""
    key = app.platform.token_public_key
    token = _token(ws)
    if not key or not token:
        return p.CLOSE_UNAUTHORIZED
    manager = manager_of(app)
    try:
        claims = manager.verifier(key).verify(token, KIOSK_AUDIENCE)
        kiosk_id = uuid.UUID(claims["sub"])
    except (InvalidToken, ValueError):
        return p.CLOSE_UNAUTHORIZED
    try:
        kiosk = await manager.kiosks.find(kiosk_id)
    except Exception:  # the database is away or saturated: the kiosk retries with backoff
        log.warning("could not look up kiosk %s", kiosk_id, exc_info=True)
        return p.CLOSE_TRY_AGAIN
    if kiosk is None or kiosk.revoked:
        return p.CLOSE_REVOKED
    return kiosk


@router.websocket("/api/v1/kiosk/ws")
async def kiosk_socket(ws: WebSocket) -> None:
    app: ServiceApp = ws.app.state.service
    kiosk = await authenticate(app, ws)
    await ws.accept()
    if isinstance(kiosk, int):
        # accepted first: a close before the handshake would reach the kiosk as a bare HTTP 403,
        # not as the code that says what to do
        await ws.close(code=kiosk)
        return
    conn = Connection(text_channel(ws), kiosk)
    conn.channel.on_text = lambda raw: audio_now(conn, raw)
    await conn.send(
        {"type": "welcome", "kiosk_id": str(kiosk.kiosk_id), "config_version": kiosk.config_version}
    )
    try:
        while (raw := await conn.channel.receive()) is not None:
            reply = await handle_message(app, conn, raw)
            if reply is not None:
                await conn.send(reply)
    finally:
        manager_of(app).disconnected(conn)


async def handle_message(
    app: ServiceApp, conn: Connection, raw: str | bytes
) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        return p.error("invalid_json", "a message is one JSON object, in a text frame")
    # a character is at most 4 bytes: most messages need no encoding to be measured
    if len(raw) * 4 > p.MAX_MESSAGE_BYTES and len(raw.encode()) > p.MAX_MESSAGE_BYTES:
        return p.error("message_too_large", f"messages are at most {p.MAX_MESSAGE_BYTES} bytes")
    if conn.session is not None and (audio := p.audio_append_audio(raw)) is not None:
        return await relay_audio(conn.session, audio, base64_checked=True)  # the hot path
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        return p.error("invalid_json", "a message is one JSON object")
    kind = body.get("type") if isinstance(body, dict) else None
    if kind not in p.KNOWN_TYPES:
        return p.error("unknown_message", f"unknown message type {kind!r}")
    try:
        message = p.INBOUND.validate_python(body)
    except ValidationError as exc:
        return p.error(
            "invalid_message",
            "the message does not match its type",
            details=exc.errors(include_url=False, include_context=False, include_input=False),
        )
    manager = manager_of(app)
    if isinstance(message, p.Heartbeat):
        try:
            await manager.heartbeats.record(conn.kiosk, message)
        except Exception:
            return p.error(
                "heartbeat_not_recorded", "the heartbeat was not recorded; send the next"
            )
        return {"type": "heartbeat.ack"}
    if isinstance(message, p.SessionStart):
        return await manager.start(conn, message.member_id)
    if isinstance(message, p.SessionResume):
        return await manager.resume(conn, message.session_id, message.last_seen_seq)
    session = conn.session
    if session is None or session.ended:
        return p.error("no_session", f"{message.type!r} needs a session: send session.start")
    if isinstance(message, p.AudioAppend):
        return await relay_audio(session, message.audio)
    if isinstance(message, p.Ack):
        if not session.acknowledged(message.seq):
            return p.error("invalid_ack", "no session message with this seq was sent yet")
        return None  # unanswered: acknowledgements must not make traffic of their own
    if isinstance(message, p.Text):
        await session.user_text(message.text)
    elif isinstance(message, p.PlaybackStopped):
        if not await session.playback_stopped(message.item_id, message.played_ms):
            return p.error("unknown_item", "no assistant audio with this item id in this session")
    elif isinstance(message, p.SessionEnd):
        await session.end("kiosk_ended")
    return None


def audio_now(conn: Connection, raw: str) -> bool:
    """The hot path, run in the socket's read callback when nothing else waits to be handled:
    an `audio.append` in its usual shape, for a session that takes audio, straight to the
    provider. Anything else (or any doubt) returns False and goes through handle_message."""
    session = conn.session
    if session is None or len(raw) > p.MAX_AUDIO_CHARS + 64:  # larger: may be too large
        return False
    audio = p.audio_append_audio(raw)
    return (
        audio is not None
        and audio_refused(session, audio, base64_checked=True) is None
        and session.user_audio_now(audio)
    )


async def relay_audio(
    session: LiveSession, audio: str, *, base64_checked: bool = False
) -> dict[str, Any] | None:
    refused = audio_refused(session, audio, base64_checked=base64_checked)
    if refused is None:
        await session.user_audio(audio)
    return refused


def audio_refused(
    session: LiveSession, audio: str, *, base64_checked: bool
) -> dict[str, Any] | None:
    """The error an `audio.append` gets, or None if the session takes it."""
    if session.ended:
        return p.error("no_session", "'audio.append' needs a session: send session.start")
    if not session.provider.accepts_audio:
        return p.error("audio_unsupported", "this session takes text only (offline assistant)")
    if not 4 <= len(audio) <= p.MAX_AUDIO_CHARS or not (base64_checked or p.is_base64(audio)):
        return p.error("invalid_audio", "audio is base64 of PCM16 mono 24 kHz samples")
    return None
