"""The OpenAI Realtime provider: one upstream WebSocket per session, opened with the `openai` SDK.

What the SDK does not do for us, and this module does:
- **Dropped connections** (any close but a normal one, a cut TCP connection, `session_expired`):
  a new upstream session starts empty, so the gateway reopens it within
  `upstream_reconnect_deadline_s` and replays the conversation so far (the session's transcript,
  same item ids), plus the member's audio not yet committed, then asks for the answer that was
  cut, if one was. The SDK's own reconnection is not used: it replays nothing.
- **The 60-minute cap**: after `upstream_rotate_after_s`, at a moment when no response is in
  flight and the member is not speaking, the conversation moves to a fresh upstream session the
  same way (the new one is ready before the old one is closed).
- **Fatal vs benign errors**: an invalid key or exhausted quota ends the session at once;
  "nothing to cancel" or "a response is already active" are logged and ignored.

Events are read as raw JSON rather than through the SDK's models: audio deltas arrive ten times a
second per session, and the relay only needs a few fields of each.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosed, InvalidStatus

from jarvis_common.events.catalogue import KioskConfig, TokenUsage
from jarvis_common.ws_protocol import FastTextClientConnection, can_send_text_now, send_text_now
from session_gateway import realtime_config
from session_gateway.protocol import is_base64, is_base64_bytes
from session_gateway.providers import (
    AssistantAudioDelta,
    AssistantAudioDone,
    AssistantTextDelta,
    AssistantTextDone,
    History,
    HistoryItem,
    ItemAdded,
    MemberContext,
    ProviderEvent,
    ProviderFatal,
    ProviderUnavailable,
    SpeechStarted,
    SpeechStopped,
    UsageReport,
    UserTranscript,
)
from session_gateway.settings import Settings

log = logging.getLogger(__name__)

# Errors after which the conversation cannot go on: the session ends with their reason.
FATAL_ERROR_CODES = frozenset(
    {"invalid_api_key", "insufficient_quota", "account_deactivated", "model_not_found"}
)
# Handshake refusals that retrying cannot fix.
FATAL_HANDSHAKE_STATUSES = frozenset({401, 403, 404})
# Member audio kept until the provider commits it, to re-send after a reconnect: at most ~15 s
# of an utterance. Until the provider's VAD hears speech, only the last ~4 s: it drops the audio
# before a turn (keeping a 300 ms prefix), and its speech_started arrives after the audio it was
# heard in. Silence between turns kept at the full 15 s cost every session 1 MB for nothing.
AUDIO_CHARS_PER_S = 64_000  # base64 of 24 kHz PCM16 mono
MAX_UNCOMMITTED_AUDIO_CHARS = 15 * AUDIO_CHARS_PER_S
QUIET_UNCOMMITTED_AUDIO_CHARS = 4 * AUDIO_CHARS_PER_S
INAUDIBLE = "(inaudible)"
# A plain recv() until this close to the rotation; then recv() with a timeout, so an idle
# conversation still rotates (a timeout per message costs a task: not for the whole hour).
ROTATION_WATCH_S = 60.0
RESPONSE_CREATE = json.dumps({"type": "response.create"})
# The SDK passes these to `websockets.connect`: a connection class whose read callback can hand
# audio deltas to the session without waking the reader (typed loosely: the SDK's options type
# does not list every `websockets.connect` argument).
FAST_AUDIO_SOCKET: Any = {"create_connection": FastTextClientConnection}

Connection = Any  # openai's AsyncRealtimeConnection


def _usage_of_response(usage: dict[str, Any]) -> TokenUsage:
    details = usage.get("input_token_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    cached_details = details.get("cached_tokens_details") or {}
    cached_text = int(cached_details.get("text_tokens", cached) or 0)
    cached_audio = int(cached_details.get("audio_tokens", 0) or 0)
    output = usage.get("output_token_details") or {}
    return TokenUsage(
        text_input=max(int(details.get("text_tokens") or 0) - cached_text, 0),
        audio_input=max(int(details.get("audio_tokens") or 0) - cached_audio, 0),
        cached_input=cached,
        text_output=int(output.get("text_tokens") or 0),
        audio_output=int(output.get("audio_tokens") or 0),
    )


def _item_create(item_id: str, role: str, text: str) -> str:
    part = "input_text" if role == "user" else "output_text"
    return json.dumps(
        {
            "type": "conversation.item.create",
            "item": {
                "id": item_id,
                "type": "message",
                "role": role,
                "content": [{"type": part, "text": text}],
            },
        }
    )


class RealtimeRelay:
    accepts_audio = True

    def __init__(self, settings: Settings, client: AsyncOpenAI) -> None:
        # one client per process, shared by its sessions: building one loads the CA bundle
        self.settings = settings
        self.name = ""
        self.transcription_model: str | None = settings.transcription_model
        self._client = client
        self._config = KioskConfig()
        self._member = MemberContext()
        self._history: History = list
        # events read but not yet delivered: _handle() fills it, the reader delivers it at once
        self._pending: deque[ProviderEvent] = deque()
        self._deliver: Callable[[ProviderEvent], Awaitable[None]] | None = None
        self._deliver_now: Callable[[ProviderEvent], bool] | None = None
        self._conn: Connection | None = None
        self._opened_at = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._fatal = False
        self._in_flight = False
        self._speaking = False
        # speech heard since the last commit: a turn is being collected, keep all of it
        self._turn_open = False
        self._uncommitted: deque[str] = deque()
        self._uncommitted_chars = 0
        self._waiting_transcripts: set[str] = set()
        self._progress = asyncio.Event()
        self._response_done = asyncio.Event()
        self._replayed: set[str] = set()
        # user input sent while the connection is being reopened, sent once it is back
        self._deferred: list[Callable[[Connection], Awaitable[None]]] = []
        # kiosk audio received while a replay runs (None when none does)
        self._arriving: list[str] | None = None

    # --- opening --------------------------------------------------------------------------

    async def start(self, config: KioskConfig, member: MemberContext, history: History) -> None:
        self._config, self._member, self._history = config, member, history
        self.name = config.openai_model
        self._conn = await self._open(replay=False)

    async def run(
        self,
        deliver: Callable[[ProviderEvent], Awaitable[None]],
        deliver_now: Callable[[ProviderEvent], bool] | None = None,
    ) -> None:
        # The reader delivers each event itself, in its own task: a queue between it and the
        # session cost a task switch per audio delta, a tenth of the gateway's CPU when
        # streaming. Audio deltas that arrive while the reader is idle do not even wake it:
        # the socket's read callback hands them to `deliver_now` (_audio_now). close() cancels
        # the reader; cancelling this call cancels it too.
        if self._closing:
            return
        self._deliver = deliver
        self._deliver_now = deliver_now
        self._reader = asyncio.create_task(self._read(), name="realtime-relay-reader")
        await self._reader

    async def _connect_once(self) -> Connection:
        try:
            conn = await self._client.realtime.connect(
                model=self.name, websocket_connection_options=FAST_AUDIO_SOCKET
            ).enter()
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in FATAL_HANDSHAKE_STATUSES:
                raise ProviderUnavailable(
                    "upstream_refused", f"upstream refused: {status}"
                ) from exc
            raise ConnectionError(f"upstream handshake refused with {status}") from exc
        update = realtime_config.session_update(
            self._config, self._member, self.settings.transcription_model
        )
        try:
            await conn.send_raw(json.dumps(update))
        except ConnectionClosed:
            await self._raise_if_refused(conn)
            raise
        self._opened_at = time.monotonic()
        socket = getattr(conn, "_connection", None)
        if isinstance(socket, FastTextClientConnection):
            socket.on_text = functools.partial(self._audio_now, conn)
        return conn

    def _audio_now(self, conn: Connection, raw: bytes) -> bool:
        """An audio delta delivered from the socket's read callback, while the reader waits on
        an empty queue (so nothing received before it is still undelivered); anything else, or
        a session that cannot take it at once, goes to the reader."""
        deliver_now = self._deliver_now
        if (
            deliver_now is None
            or conn is not self._conn
            or self._pending
            or self._closing
            or self._fatal
        ):
            return False
        delta = audio_delta(raw)
        if delta is None:
            return False
        return deliver_now(AssistantAudioDelta(item_id=delta[0], audio=delta[1]))

    @staticmethod
    async def _raise_if_refused(conn: Connection) -> None:
        """A connection closed during setup: was it an error that retrying cannot fix?"""
        with contextlib.suppress(ConnectionClosed):
            while True:
                event = json.loads(await conn.recv_bytes())
                error = event.get("error") or {} if event.get("type") == "error" else {}
                if error.get("code") in FATAL_ERROR_CODES:
                    raise ProviderUnavailable(error["code"], error.get("message") or error["code"])

    async def _open(self, *, replay: bool) -> Connection:
        """A configured upstream session, within the reconnect deadline, or ProviderUnavailable."""
        deadline = time.monotonic() + self.settings.upstream_reconnect_deadline_s
        delay = 0.05
        while True:
            attempt_left = deadline - time.monotonic()
            try:
                async with asyncio.timeout(max(attempt_left, 0.1)):
                    conn = await self._connect_once()
                    try:
                        if replay:
                            await self._replay(conn)
                    except BaseException:
                        with contextlib.suppress(Exception):
                            await conn.close()
                        raise
                    return conn
            except ProviderUnavailable:
                raise
            except (OSError, ConnectionError, ConnectionClosed, TimeoutError) as exc:
                if time.monotonic() + delay >= deadline:
                    raise ProviderUnavailable(
                        "upstream_unreachable",
                        f"upstream not reachable within "
                        f"{self.settings.upstream_reconnect_deadline_s:g} s: {exc!r}",
                    ) from exc
                log.info("realtime: connection attempt failed (%r), retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _replay(self, conn: Connection) -> None:
        """Tell a new upstream session the conversation so far, then what was cut."""
        items = list(self._history())
        self._replayed = {item.item_id for item in items}
        for item in items:
            if item.role == "assistant" and not item.text:
                continue  # nothing of it was said
            await conn.send_raw(_item_create(item.item_id, item.role, item.text or INAUDIBLE))
        # A copy: audio the kiosk sends while this replay awaits is kept meanwhile (the deque
        # grows, and may drop its oldest), and is sent from `_arriving` at the end.
        self._arriving = []
        try:
            await self._replay_rest(conn, items)
        finally:
            self._arriving = None

    async def _replay_rest(self, conn: Connection, items: list[HistoryItem]) -> None:
        for chunk in list(self._uncommitted):
            await conn.send_raw(_audio_append(chunk))
        deferred, self._deferred = self._deferred, []
        for action in deferred:
            await action(conn)
        cut = bool(items) and items[-1].role == "assistant" and items[-1].incomplete
        unanswered = bool(items) and items[-1].role == "user" and not deferred
        if cut or self._in_flight:
            self._in_flight = False
            instructions = realtime_config.continue_instructions(self._config, self._member)
            await conn.send_raw(
                json.dumps({"type": "response.create", "response": {"instructions": instructions}})
            )
        elif unanswered:
            await conn.send_raw(RESPONSE_CREATE)
        # Nothing is awaited between the last check and the caller making `conn` current, so
        # no audio falls between this and append_audio's direct path.
        arriving = self._arriving
        while arriving:
            await conn.send_raw(_audio_append(arriving.pop(0)))

    # --- reading --------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            while not self._closing:
                conn = self._conn
                try:
                    until_rotation = self._until_rotation()
                    if until_rotation > ROTATION_WATCH_S:
                        raw = await conn.recv_bytes()
                    else:  # near the cap, wake up even when nothing arrives (no loss: see above)
                        raw = await asyncio.wait_for(conn.recv_bytes(), until_rotation)
                except TimeoutError:
                    if self._rotation_due():
                        await self._rotate()
                    continue
                except ConnectionClosed as exc:
                    if self._closing or self._fatal:
                        break
                    if conn is not self._conn:
                        continue  # an old connection, already replaced
                    code = exc.rcvd.code if exc.rcvd is not None else 1006
                    if code == 1000:
                        self._fail("upstream_closed", "the provider ended the conversation")
                        break
                    await self._reopen(f"upstream closed with {code}")
                    continue
                delta = audio_delta(raw)
                if delta is not None:
                    self._pending.append(AssistantAudioDelta(item_id=delta[0], audio=delta[1]))
                else:
                    self._handle(json.loads(raw))
                await self._flush()
                if self._rotation_due():
                    await self._rotate()
        except ProviderUnavailable as exc:
            self._fail(exc.code, exc.message)
        except Exception as exc:  # a bug here must end the session, not hang it
            log.exception("realtime: reader failed")
            self._fail("relay_error", repr(exc))
        await self._flush()

    async def _flush(self) -> None:
        deliver = self._deliver
        assert deliver is not None
        pending = self._pending
        while pending:
            await deliver(pending.popleft())

    def _fail(self, code: str, message: str) -> None:
        if not self._fatal:
            self._fatal = True
            self._pending.append(ProviderFatal(code=code, message=message))

    async def _reopen(self, why: str) -> None:
        log.warning("realtime: %s; reopening and replaying the conversation", why)
        self._conn = None
        self._speaking = False
        # The replay is the session's transcript, which has applied everything received: the
        # reader delivers each event before it reads the next.
        self._conn = await self._open(replay=True)

    def _until_rotation(self) -> float:
        # cancelling recv loses nothing (the SDK says so)
        age = time.monotonic() - self._opened_at
        return max(self.settings.upstream_rotate_after_s - age, 0.05)

    def _rotation_due(self) -> bool:
        return (
            time.monotonic() - self._opened_at >= self.settings.upstream_rotate_after_s
            and not self._in_flight
            and not self._speaking
            and not self._waiting_transcripts
        )

    async def _rotate(self) -> None:
        """Move the conversation to a fresh upstream session before the provider's cap."""
        old = self._conn
        self._conn = None  # input that arrives meanwhile is deferred to the new connection
        try:
            self._conn = await self._open(replay=True)
        except ProviderUnavailable:
            self._conn = old  # the old one still works until its cap: try again later
            self._opened_at = time.monotonic() - self.settings.upstream_rotate_after_s + 5
            return
        with contextlib.suppress(Exception):
            await old.close(code=1000)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        emit = self._pending.append
        if kind == "response.output_audio.delta":
            if is_base64(event["delta"]):
                emit(AssistantAudioDelta(item_id=event["item_id"], audio=event["delta"]))
            else:  # the kiosk could not play it, and it would have to be escaped for JSON
                log.warning("realtime: audio delta that is not base64 dropped")
        elif kind in ("response.output_audio_transcript.delta", "response.output_text.delta"):
            emit(AssistantTextDelta(item_id=event["item_id"], delta=event["delta"]))
        elif kind == "response.output_audio_transcript.done":
            emit(AssistantTextDone(item_id=event["item_id"], text=event.get("transcript") or ""))
        elif kind == "response.output_text.done":
            emit(AssistantTextDone(item_id=event["item_id"], text=event.get("text") or ""))
        elif kind == "response.output_audio.done":
            emit(AssistantAudioDone(item_id=event["item_id"]))
        elif kind == "conversation.item.added":
            self._item_added(event)
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._transcribed(event["item_id"], event.get("transcript") or "", failed=False)
            usage = event.get("usage") or {}
            if usage.get("type", "tokens") == "tokens":
                emit(
                    UsageReport(
                        TokenUsage(
                            transcription_input=int(usage.get("input_tokens") or 0),
                            transcription_output=int(usage.get("output_tokens") or 0),
                        )
                    )
                )
        elif kind == "conversation.item.input_audio_transcription.failed":
            log.info("realtime: transcription failed: %s", event.get("error"))
            self._transcribed(event["item_id"], "", failed=True)
        elif kind == "input_audio_buffer.speech_started":
            self._speaking = self._turn_open = True
            emit(SpeechStarted())
        elif kind == "input_audio_buffer.speech_stopped":
            self._speaking = False
            emit(SpeechStopped())
        elif kind in ("input_audio_buffer.committed", "input_audio_buffer.cleared"):
            self._turn_open = False
            self._uncommitted.clear()
            self._uncommitted_chars = 0
        elif kind == "response.created":
            self._in_flight = True
        elif kind == "response.done":
            self._response_finished(event.get("response") or {})
        elif kind == "error":
            self._error(event.get("error") or {})

    def _item_added(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        item_id, role = item.get("id"), item.get("role")
        if item.get("type") != "message" or role not in ("user", "assistant") or not item_id:
            return
        if item_id in self._replayed:
            return  # the session knows it already
        self._pending.append(
            ItemAdded(item_id=item_id, previous_item_id=event.get("previous_item_id"), role=role)
        )
        if role != "user":
            return
        content = (item.get("content") or [{}])[0]
        if content.get("type") == "input_text":
            self._pending.append(UserTranscript(item_id=item_id, text=content.get("text", "")))
        elif content.get("type") == "input_audio":
            self._waiting_transcripts.add(item_id)

    def _transcribed(self, item_id: str, text: str, *, failed: bool) -> None:
        self._waiting_transcripts.discard(item_id)
        self._progress.set()
        self._pending.append(
            UserTranscript(item_id=item_id, text=text, transcription_failed=failed)
        )

    def _response_finished(self, response: dict[str, Any]) -> None:
        self._in_flight = False
        self._response_done.set()
        self._progress.set()
        if response.get("usage"):
            self._pending.append(UsageReport(_usage_of_response(response["usage"])))
        if response.get("status") == "failed":
            error = (response.get("status_details") or {}).get("error") or {}
            if error.get("code") in FATAL_ERROR_CODES:
                self._fail(error["code"], error.get("message") or error["code"])

    def _error(self, error: dict[str, Any]) -> None:
        code = error.get("code") or error.get("type") or "unknown"
        if code in FATAL_ERROR_CODES:
            self._fail(code, error.get("message") or code)
        elif code == "session_expired":
            log.info("realtime: upstream session expired; the next connection takes over")
        else:  # e.g. nothing to cancel, a response already active: the conversation goes on
            log.info("realtime: benign upstream error %s: %s", code, error.get("message"))

    # --- input ----------------------------------------------------------------------------

    async def _send(self, *payloads: str, defer: bool) -> None:
        """Send now. While the connection is being reopened, and `defer`, send them all once it
        is back (after the replay); otherwise they are dropped."""
        conn = self._conn
        if conn is not None:
            try:
                await conn.send_raw(payloads[0])
            except ConnectionClosed:
                pass  # the reader is reopening it
            else:
                # the first went out: the rest follow on this connection, or are lost with it
                with contextlib.suppress(ConnectionClosed):
                    for payload in payloads[1:]:
                        await conn.send_raw(payload)
                return
        if defer:

            async def later(conn: Connection) -> None:
                for payload in payloads:
                    await conn.send_raw(payload)

            self._deferred.append(later)

    async def send_user_text(self, text: str) -> None:
        item_id = f"item_{uuid.uuid4().hex[:24]}"
        await self._send(_item_create(item_id, "user", text), RESPONSE_CREATE, defer=True)

    def _keep_uncommitted(self, audio: str) -> None:
        self._uncommitted.append(audio)
        self._uncommitted_chars += len(audio)
        limit = MAX_UNCOMMITTED_AUDIO_CHARS if self._turn_open else QUIET_UNCOMMITTED_AUDIO_CHARS
        while self._uncommitted_chars > limit and len(self._uncommitted) > 1:
            self._uncommitted_chars -= len(self._uncommitted.popleft())

    def append_audio_now(self, audio: str) -> bool:
        conn = self._conn
        socket = getattr(conn, "_connection", None) if conn is not None else None
        if not isinstance(socket, FastTextClientConnection) or not can_send_text_now(socket):
            return False
        self._keep_uncommitted(audio)
        send_text_now(socket, _audio_append(audio))  # if it fails, the replay re-sends it
        return True

    async def append_audio(self, audio: str) -> None:
        self._keep_uncommitted(audio)
        conn = self._conn
        if conn is None:
            if self._arriving is not None:
                self._arriving.append(audio)  # a replay is running: it sends this at its end
            return  # kept in _uncommitted: the next replay sends it
        # Straight onto the socket: the SDK's send path (its reconnect queue, which this relay
        # does not use) cost more CPU per audio chunk than the rest of the relay.
        socket = getattr(conn, "_connection", None)
        with contextlib.suppress(ConnectionClosed):
            if socket is not None:
                await socket.send(_audio_append(audio))
            else:
                await conn.send_raw(_audio_append(audio))

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        payload = json.dumps(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": audio_end_ms,
            }
        )

        # after a reconnect the replay carries the truncated text instead
        await self._send(payload, defer=False)

    async def wrap_up(self, instructions: str) -> None:
        if self._in_flight:
            self._response_done.clear()
            await self._response_done.wait()
        self._response_done.clear()
        payload = json.dumps(
            {"type": "response.create", "response": {"instructions": instructions}}
        )
        await self._send(payload, defer=True)
        await self._response_done.wait()

    # --- the end --------------------------------------------------------------------------

    async def close(self, grace_s: float) -> None:
        """Stop a response still running (its usage still counts), wait up to `grace_s` for it
        and for transcripts still due, then close the upstream session."""
        if self._in_flight and self._conn is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._conn.send_raw(json.dumps({"type": "response.cancel"}))
        deadline = time.monotonic() + grace_s
        while (
            (self._waiting_transcripts or self._in_flight)
            and not self._fatal
            and self._conn is not None
        ):
            self._progress.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left)
        self._closing = True
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(code=1000)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


# The API writes `event_id` first (as its reference does), so it may precede the type.
_AUDIO_DELTA = re.compile(
    rb'\s*\{\s*(?:"event_id"\s*:\s*"[^"\\]*"\s*,\s*)?"type"\s*:\s*"response\.output_audio\.delta"\s*,'
)
_ITEM_ID = re.compile(rb'"item_id"\s*:\s*"([^"\\]*)"')
_DELTA = re.compile(rb'"delta"\s*:\s*"')


def audio_delta(raw: bytes) -> tuple[str, str] | None:
    """(item id, base64 audio) of a `response.output_audio.delta` event, read from its text: ten
    times a second per session, parsing 6 KB of JSON for two strings cost more than relaying
    them. None for any other event, or any doubt (audio that is not plain base64, such as one
    with an escape): those are parsed as JSON. A quoted key cannot occur inside a JSON string
    (its quotes would be escaped), and this event has no nested objects, so the first
    `"delta":` is the event's own."""
    if _AUDIO_DELTA.match(raw) is None:
        return None
    item, key = _ITEM_ID.search(raw), _DELTA.search(raw)
    if item is None or key is None:
        return None
    end = raw.find(b'"', key.end())
    audio = raw[key.end() : end]
    if end < 0 or not is_base64_bytes(audio):
        return None
    try:
        item_id = item.group(1).decode()
    except UnicodeDecodeError:
        return None
    return item_id, audio.decode("ascii")


def _audio_append(audio: str) -> str:
    # The audio was checked to be base64 on the way in, so it cannot break the JSON.
    return '{"type":"input_audio_buffer.append","audio":"' + audio + '"}'


def realtime_client(settings: Settings) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        websocket_base_url=settings.openai_ws_base_url,
        max_retries=0,
    )
