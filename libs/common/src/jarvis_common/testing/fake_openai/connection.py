"""`RealtimeConnection`: the server side of one Realtime WebSocket, and its record."""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from fastapi import WebSocket

from jarvis_common.testing.fake_openai._common import (
    BYTES_PER_MS,
    audio_ms,
    peak,
    sleep_unless,
    speech_pcm,
    split_text,
    wait_until,
    words,
)
from jarvis_common.testing.fake_openai.script import (
    ABORT,
    Answer,
    ErrorSpec,
    RealtimeUsage,
    Transcript,
    TurnContext,
)

if TYPE_CHECKING:
    from jarvis_common.testing.fake_openai.realtime import RealtimeFake
    from jarvis_common.testing.fake_openai.server import FakeOpenAI

Event = dict[str, Any]


def default_session(model: str, session_id: str) -> dict[str, Any]:
    """The session the real service starts with (GA defaults)."""
    vad = {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": int(time.time()) + 3600,
        "include": None,
        "audio": {
            "input": {
                "format": pcm,
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": vad,
            },
            "output": {"format": dict(pcm), "voice": "alloy", "speed": 1.0},
        },
    }


_REPLACED = {"turn_detection", "format", "transcription", "noise_reduction", "tools", "tracing"}


def _merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    """`session.update` semantics: nested objects merge, these few are replaced whole."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key not in _REPLACED:
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


_CONTENT_TYPES = {
    "user": {"input_text", "input_audio", "input_image"},
    "assistant": {"output_text", "output_audio"},
    "system": {"input_text"},
}


class _Response:
    def __init__(self, response_id: str) -> None:
        self.id = response_id
        self.cancel_reason: str | None = None
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def cancel(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self.stop.set()


class RealtimeConnection:
    """One accepted WebSocket: the server side of a Realtime session, and its record.

    Record: `received` (every client event), `sent` (every server event), `items` (the
    conversation in order), `session`, `responses`, `truncations`, `close_code`/`closed_by`.
    Controls: `send_event`, `send_error`, `close`, `drop`, `expire`.
    """

    def __init__(
        self, fake: RealtimeFake, server: FakeOpenAI, websocket: WebSocket, number: int
    ) -> None:
        self._fake = fake
        self._server = server
        self._ws = websocket
        self.number = number  # 1-based, in order of acceptance
        self.path = websocket.url.path
        self.query = dict(websocket.query_params)
        self.headers = {k.lower(): v for k, v in websocket.headers.items()}
        self.model = self.query.get("model")
        authorization = self.headers.get("authorization", "")
        self.api_key = authorization.removeprefix("Bearer ") if authorization else None
        self.opened_at = time.monotonic()
        self.conversation_id = server.ids.next("conv")
        self.session = default_session(self.model or "gpt-realtime", server.ids.next("sess"))
        self.received: list[Event] = []
        self.sent: list[Event] = []
        self.items: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # the `response` of every `response.done`
        self.truncations: dict[str, int] = {}  # item id -> audio_end_ms
        self.closed = False
        self.close_code: int | None = None
        self.closed_by: Literal["client", "server"] | None = None
        self._closing = False
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._active: _Response | None = None
        self._responses_done = 0
        self._done_condition = asyncio.Condition()
        self._buffer = bytearray()
        self._audio_total_ms = 0
        self._speech_item: str | None = None
        self._speech_chunks = 0
        self._silence_ms = 0
        self._heard: dict[str, str] = {}  # user audio item -> what the "model" heard
        self._item_audio_ms: dict[str, int] = {}
        self._audio_produced = False
        self._last_input = (0, 0)

    # ----------------------------------------------------------------- the record

    def received_types(self) -> list[str]:
        return [e.get("type", "?") for e in self.received]

    def received_of(self, event_type: str) -> list[Event]:
        return [e for e in self.received if e.get("type") == event_type]

    def sent_types(self) -> list[str]:
        return [e["type"] for e in self.sent]

    def sent_of(self, event_type: str) -> list[Event]:
        return [e for e in self.sent if e["type"] == event_type]

    def conversation(self) -> list[tuple[str, str]]:
        """(role, text) of every item, in conversation order (audio: what was heard/said)."""
        return [(i.get("role", i.get("type", "?")), self._item_text(i)) for i in self.items]

    async def wait_received(
        self, event_type: str, count: int = 1, *, timeout: float = 5.0
    ) -> Event:
        """Wait until the client sent `count` events of `event_type`; return that one."""
        await wait_until(
            lambda: len(self.received_of(event_type)) >= count,
            timeout=timeout,
            message=f"{count} x {event_type} from the client (got {self.received_types()})",
        )
        return self.received_of(event_type)[count - 1]

    async def wait_sent(self, event_type: str, count: int = 1, *, timeout: float = 5.0) -> Event:
        """Wait until the fake sent `count` events of `event_type`; return that one."""
        await wait_until(
            lambda: len(self.sent_of(event_type)) >= count,
            timeout=timeout,
            message=f"{count} x {event_type} from the fake",
        )
        return self.sent_of(event_type)[count - 1]

    async def wait_closed(self, *, timeout: float = 5.0) -> int | None:
        await wait_until(lambda: self.closed, timeout=timeout, message="connection closed")
        return self.close_code

    # ----------------------------------------------------------------- controls

    async def send_event(self, event: Event) -> None:
        """Send any server event (an `event_id` is added)."""
        await self._server.on_server_loop(self._send(dict(event)))

    async def send_error(self, error: ErrorSpec, *, close_code: int | None = None) -> None:
        """Send an `error` event now; with `close_code`, close (1006: cut) right after."""

        async def run() -> None:
            await self._send_error(error)
            if close_code is not None:
                await self._close(close_code)

        await self._server.on_server_loop(run())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the server side with a close frame (1006: cut TCP without one)."""
        await self._server.on_server_loop(self._close(code, reason))

    async def drop(self) -> None:
        """Cut the TCP connection without a close frame: the client sees 1006."""
        await self.close(ABORT)

    async def expire(self) -> None:
        """What the provider does at its session cap: `session_expired`, then close 1001."""
        await self.send_error(ErrorSpec.session_expired(), close_code=1001)

    # ----------------------------------------------------------------- serving

    async def _run(self) -> None:
        await self._ws.accept()
        await self._emit("session.created", session=copy.deepcopy(self.session))
        expected_key = self._server.api_key
        if expected_key is not None and self.api_key != expected_key:
            await self._send_error(ErrorSpec.invalid_api_key(self.api_key))
            await self._close(self._fake.invalid_key_close_code)
        else:
            await self._apply_fault("connect", None)
        if self._fake.max_session_seconds is not None:
            self._spawn(self._expire_after(self._fake.max_session_seconds))
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    if not self._closing:  # the fake stopping closes with 1012
                        self.closed_by = "server" if self._server._stopping.is_set() else "client"
                        self.close_code = message.get("code", 1005)
                    break
                raw = message.get("text")
                if raw is None:
                    raw = (message.get("bytes") or b"").decode("utf-8", "replace")
                await self._handle(raw)
        finally:
            self.closed = True
            if self._active is not None:
                self._active.cancel("connection_closed")
            for task in list(self._tasks):
                task.cancel()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, event: Event) -> None:
        if self.closed or self._closing:
            return
        event = {"event_id": self._server.ids.next("event"), **event}
        async with self._send_lock:
            if self.closed or self._closing:
                return
            try:
                await self._ws.send_text(json.dumps(event))
            except Exception:
                self.closed = True
                return
            self.sent.append(event)

    async def _emit(self, event_type: str, **fields: Any) -> None:
        await self._send({"type": event_type, **fields})

    async def _send_error(self, error: ErrorSpec, client_event_id: str | None = None) -> None:
        await self._emit("error", error=error.body(client_event_id))

    async def _reject(
        self,
        event: Event,
        message: str,
        code: str | None = "invalid_value",
        param: str | None = None,
    ) -> None:
        await self._send_error(ErrorSpec(message, code, param=param), event.get("event_id"))

    async def _close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed or self._closing:
            return
        self._closing = True
        self.closed_by = "server"
        self.close_code = code
        if self._active is not None:
            self._active.cancel("connection_closed")
        if code == ABORT:
            if self._server._abort_transport(self._ws):
                return
            code = self.close_code = 1011  # the transport could not be cut: the nearest close
        try:
            await self._ws.close(code=code, reason=reason)
        except Exception:
            pass

    async def _expire_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._send_error(ErrorSpec.session_expired())
        await self._close(1001, "session expired")

    async def _apply_fault(self, event_type: str, event_id: str | None) -> bool:
        for fault in self._fake.faults:
            if fault.take(event_type):
                if fault.error is not None:
                    await self._send_error(fault.error, event_id)
                if fault.close_code is not None:
                    await self._close(fault.close_code)
                return True
        return False

    async def _handle(self, raw: str) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self.received.append({"type": "<invalid>", "raw": raw})
            await self._reject(
                {}, "The client event is not a JSON object with a 'type'.", param="type"
            )
            return
        self.received.append(event)
        if await self._apply_fault(event["type"], event.get("event_id")):
            return
        handler = _HANDLERS.get(event["type"])
        if handler is None:
            await self._reject(event, f"Invalid value: '{event['type']}'.", param="type")
            return
        await handler(self, event)

    # ----------------------------------------------------------------- session and items

    async def _on_session_update(self, event: Event) -> None:
        update = event.get("session")
        if not isinstance(update, dict) or update.get("type") != "realtime":
            message = "Missing or unsupported 'session.type' (the fake serves 'realtime')."
            await self._reject(event, message, "missing_required_parameter", "session.type")
            return
        voice = ((update.get("audio") or {}).get("output") or {}).get("voice")
        if voice and voice != self.session["audio"]["output"]["voice"] and self._audio_produced:
            message = "Cannot update a conversation's voice if assistant audio is present."
            await self._reject(event, message, "cannot_update_voice", "session.audio.output.voice")
            return
        _merge(self.session, update)
        await self._emit("session.updated", session=copy.deepcopy(self.session))

    async def _on_item_create(self, event: Event) -> None:
        item = copy.deepcopy(event.get("item"))
        problem = _item_problem(item)
        if problem:
            await self._reject(event, problem, param="item")
            return
        assert isinstance(item, dict)
        item.setdefault("id", self._server.ids.next("item"))
        if self._find(item["id"]) is not None:
            message = f"Item with id '{item['id']}' already exists."
            await self._reject(event, message, "duplicate_item_id", "item.id")
            return
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and self._find(previous) is None:
            message = f"Previous item with id '{previous}' not found."
            await self._reject(event, message, param="previous_item_id")
            return
        item["object"] = "realtime.item"
        item.setdefault("status", "completed")
        for part in item.get("content") or []:
            if part.get("type") in ("input_audio", "output_audio"):
                pcm = base64.b64decode(part.pop("audio", "") or "")
                self._item_audio_ms[item["id"]] = audio_ms(len(pcm))
                part.setdefault("transcript", None)
        await self._add_item(item, after=previous)
        await self._item_done(item)

    def _find(self, item_id: Any) -> dict[str, Any] | None:
        return next((i for i in self.items if i["id"] == item_id), None)

    async def _add_item(self, item: dict[str, Any], *, after: str | None = None) -> None:
        """Insert `item` after `after` (None: at the end; "root": first) and announce it."""
        if after is None:
            position = len(self.items)
        elif after == "root":
            position = 0
        else:
            position = next(i for i, x in enumerate(self.items) if x["id"] == after) + 1
        previous = self.items[position - 1]["id"] if position > 0 else None
        self.items.insert(position, item)
        await self._emit("conversation.item.added", previous_item_id=previous, item=_copy(item))
        if self._fake.legacy_item_created:
            await self._emit(
                "conversation.item.created", previous_item_id=previous, item=_copy(item)
            )

    async def _item_done(self, item: dict[str, Any]) -> None:
        index = next(i for i, x in enumerate(self.items) if x["id"] == item["id"])
        previous = self.items[index - 1]["id"] if index > 0 else None
        await self._emit("conversation.item.done", previous_item_id=previous, item=_copy(item))

    async def _on_item_delete(self, event: Event) -> None:
        item = self._find(event.get("item_id"))
        if item is None:
            await self._reject(event, f"Item '{event.get('item_id')}' not found.", param="item_id")
            return
        self.items.remove(item)
        await self._emit("conversation.item.deleted", item_id=item["id"])

    async def _on_item_retrieve(self, event: Event) -> None:
        item = self._find(event.get("item_id"))
        if item is None:
            await self._reject(event, f"Item '{event.get('item_id')}' not found.", param="item_id")
            return
        await self._emit("conversation.item.retrieved", item=_copy(item))

    async def _on_item_truncate(self, event: Event) -> None:
        item_id, end = event.get("item_id"), event.get("audio_end_ms")
        item = self._find(item_id)
        produced = self._item_audio_ms.get(str(item_id), 0)
        if item is None or item.get("role") != "assistant" or not produced:
            message = f"Item '{item_id}' is not an assistant message with audio."
            await self._reject(event, message, param="item_id")
            return
        if not isinstance(end, int) or not 0 <= end <= produced:
            message = f"Audio content of {produced}ms is already shorter than {end}ms"
            await self._reject(event, message, param="audio_end_ms")
            return
        self.truncations[item["id"]] = end
        index = event.get("content_index", 0)
        await self._emit(
            "conversation.item.truncated", item_id=item["id"], content_index=index, audio_end_ms=end
        )

    # ----------------------------------------------------------------- input audio

    async def _on_append(self, event: Event) -> None:
        try:
            pcm = base64.b64decode(event.get("audio") or "", validate=True)
        except (binascii.Error, ValueError):
            await self._reject(event, "Invalid 'audio': expected base64 audio.", param="audio")
            return
        chunk_start, chunk_ms = self._audio_total_ms, audio_ms(len(pcm))
        self._audio_total_ms += chunk_ms
        self._buffer.extend(pcm)
        detection = self.session["audio"]["input"].get("turn_detection")
        if detection is None:
            return  # no VAD: the client commits
        loud = peak(pcm) >= self._fake.vad_threshold
        if self._speech_item is None:
            if not loud:
                return
            self._speech_item = self._server.ids.next("item")
            self._speech_chunks = self._silence_ms = 0
            await self._emit(
                "input_audio_buffer.speech_started",
                audio_start_ms=chunk_start,
                item_id=self._speech_item,
            )
            if self._active is not None and detection.get("interrupt_response", True):
                await self._cancel_active("turn_detected")
        self._speech_chunks += 1
        self._silence_ms = 0 if loud else self._silence_ms + chunk_ms
        limit = self._fake.vad_speech_chunks
        if self._silence_ms >= detection.get("silence_duration_ms", 500) or (
            limit is not None and self._speech_chunks >= limit
        ):
            item_id, self._speech_item = self._speech_item, None
            await self._emit(
                "input_audio_buffer.speech_stopped",
                audio_end_ms=self._audio_total_ms,
                item_id=item_id,
            )
            await self._commit(item_id, respond=detection.get("create_response", True))

    async def _on_commit(self, event: Event) -> None:
        buffered = len(self._buffer) / BYTES_PER_MS
        if buffered < 100:
            message = (
                "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                f"of audio, but buffer only has {buffered:.2f}ms of audio."
            )
            await self._reject(event, message, "input_audio_buffer_commit_empty")
            return
        item_id, self._speech_item = self._speech_item, None
        await self._commit(item_id, respond=False)

    async def _on_clear(self, event: Event) -> None:
        self._buffer.clear()
        self._speech_item = None
        await self._emit("input_audio_buffer.cleared")

    async def _commit(self, item_id: str | None, *, respond: bool) -> None:
        item_id = item_id or self._server.ids.next("item")
        duration = audio_ms(len(self._buffer))
        self._buffer.clear()
        previous = self.items[-1]["id"] if self.items else None
        await self._emit("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        transcript = self._fake._pick_transcript()
        self._heard[item_id] = transcript.text
        self._item_audio_ms[item_id] = duration
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._add_item(item)
        await self._item_done(item)
        if self.session["audio"]["input"].get("transcription"):
            transcribing = self._transcribe(item, transcript, duration, self._responses_done)
            if transcript.delay or transcript.after_response:
                self._spawn(transcribing)
            else:
                await transcribing
        if respond:
            if self._active is not None:
                await self._send_error(ErrorSpec.response_already_active(self._active.id))
            else:
                self._start_response({})

    async def _transcribe(
        self, item: dict[str, Any], transcript: Transcript, duration: int, done_before: int
    ) -> None:
        if transcript.after_response:
            async with self._done_condition:
                await self._done_condition.wait_for(lambda: self._responses_done > done_before)
        if transcript.delay:
            await asyncio.sleep(transcript.delay)
        where = {"item_id": item["id"], "content_index": 0}
        prefix = "conversation.item.input_audio_transcription"
        if transcript.fail is not None:
            error = {k: v for k, v in transcript.fail.body().items() if k != "event_id"}
            await self._emit(f"{prefix}.failed", **where, error=error)
            return
        item["content"][0]["transcript"] = text = transcript.text
        audio_tokens = max(duration // 100, 1)
        usage = {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "output_tokens": words(text),
            "total_tokens": audio_tokens + words(text),
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
        }
        await self._emit(f"{prefix}.delta", **where, delta=text)
        await self._emit(f"{prefix}.completed", **where, transcript=text, usage=usage)

    # ----------------------------------------------------------------- responses

    async def _on_response_create(self, event: Event) -> None:
        if self._active is not None:
            error = ErrorSpec.response_already_active(self._active.id)
            await self._send_error(error, event.get("event_id"))
            return
        self._start_response(event.get("response") or {})

    async def _on_response_cancel(self, event: Event) -> None:
        wanted = event.get("response_id")
        if self._active is None or (wanted and wanted != self._active.id):
            await self._send_error(ErrorSpec.no_active_response(), event.get("event_id"))
            return
        await self._cancel_active("client_cancelled")

    async def _cancel_active(self, reason: str) -> None:
        active = self._active
        if active is None:
            return
        active.cancel(reason)
        if active.task is not None and active.task is not asyncio.current_task():
            await asyncio.wait({active.task}, timeout=5)

    def _start_response(self, params: dict[str, Any]) -> None:
        response = _Response(self._server.ids.next("resp"))
        self._active = response
        response.task = self._spawn(self._respond(params, response))

    async def _respond(self, params: dict[str, Any], response: _Response) -> None:
        try:
            await self._generate(params, response)
        finally:
            if self._active is response:
                self._active = None

    async def _generate(self, params: dict[str, Any], response: _Response) -> None:
        in_conversation = params.get("conversation", "auto") != "none"
        own_instructions = params.get("instructions") or ""
        ctx = TurnContext(
            user_text=self._last_user_text(),
            instructions=own_instructions or self.session.get("instructions") or "",
            response_instructions=own_instructions,
            response=params,
            connection=self,
        )
        answer = self._fake._pick_answer(ctx)
        modalities = params.get("output_modalities") or self.session.get("output_modalities")
        audio = (
            answer.modality == "audio" if answer.modality else "audio" in (modalities or ["audio"])
        )
        input_text, input_audio = self._input_tokens(ctx.instructions, in_conversation)
        voice = self.session["audio"]["output"]
        body: dict[str, Any] = {
            "object": "realtime.response",
            "id": response.id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": self.conversation_id if in_conversation else None,
            "output_modalities": ["audio"] if audio else ["text"],
            "max_output_tokens": params.get("max_output_tokens", self.session["max_output_tokens"]),
            "audio": {"output": {"format": voice["format"], "voice": voice["voice"]}},
            "usage": None,
            "metadata": params.get("metadata"),
        }
        await self._emit("response.created", response=copy.deepcopy(body))
        await self._emit("rate_limits.updated", rate_limits=self._fake.rate_limits())
        if answer.fail is not None:
            error = {
                k: v for k, v in answer.fail.body().items() if k in ("type", "code", "message")
            }
            body.update(status="failed", status_details={"type": "failed", "error": error})
            body["usage"] = (answer.usage or RealtimeUsage(input_text, input_audio)).to_api()
            await self._finish(body)
            return

        item_id = self._server.ids.next("item")
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        at = {"response_id": response.id, "output_index": 0}
        where = {
            "response_id": response.id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
        }
        await self._emit("response.output_item.added", **at, item=_copy(item))
        if in_conversation:
            await self._add_item(item)
        kind, key = ("audio", "transcript") if audio else ("text", "text")
        await self._emit("response.content_part.added", **where, part={"type": kind, key: ""})
        said, sent_ms = await self._stream(answer, response, where, audio)
        if self.closed or self._closing:
            return

        cancelled = response.cancel_reason is not None
        item["content"] = [{"type": f"output_{kind}", key: said}]
        item["status"] = "incomplete" if cancelled else "completed"
        if not cancelled:
            if audio:
                await self._emit("response.output_audio.done", **where)
                await self._emit("response.output_audio_transcript.done", **where, transcript=said)
            else:
                await self._emit("response.output_text.done", **where, text=said)
            await self._emit("response.content_part.done", **where, part={"type": kind, key: said})
        await self._emit("response.output_item.done", **at, item=_copy(item))
        if in_conversation:
            await self._item_done(item)
        usage = answer.usage or RealtimeUsage(
            input_text=input_text,
            input_audio=input_audio,
            cached_text=min(self._last_input[0], input_text),
            cached_audio=min(self._last_input[1], input_audio),
            output_text=words(said),
            output_audio=sent_ms // 50,
        )
        self._last_input = (input_text, input_audio)
        body["status"] = "cancelled" if cancelled else "completed"
        if cancelled:
            body["status_details"] = {"type": "cancelled", "reason": response.cancel_reason}
        body["output"] = [_copy(item)]
        body["usage"] = usage.to_api()
        await self._finish(body)

    async def _stream(
        self, answer: Answer, response: _Response, where: dict[str, Any], audio: bool
    ) -> tuple[str, int]:
        """The deltas of an answer, until done, cancelled or dropped: (text said, audio ms)."""
        said, sent_ms = "", 0
        chunk = base64.b64encode(speech_pcm(answer.audio_ms_per_delta)).decode()
        for number, delta in enumerate(split_text(answer.text, answer.deltas), 1):
            if await sleep_unless(response.stop, answer.delta_delay) or response.cancel_reason:
                break
            if audio:
                kinds = ["response.output_audio_transcript.delta", "response.output_audio.delta"]
                if answer.audio_first:
                    kinds.reverse()
                for kind in kinds:
                    await self._emit(
                        kind, **where, delta=chunk if kind.endswith("audio.delta") else delta
                    )
                sent_ms += answer.audio_ms_per_delta
                self._item_audio_ms[where["item_id"]] = sent_ms
                self._audio_produced = True
            else:
                await self._emit("response.output_text.delta", **where, delta=delta)
            said += delta
            if number == 1 and answer.hold_until is not None:
                await _first_of(answer.hold_until, response.stop)
            if answer.drop_after == number:
                await self._close(answer.drop_code)
            if self.closed or self._closing:
                break
        return said, sent_ms

    async def _finish(self, body: dict[str, Any]) -> None:
        self.responses.append(body)
        if self._active is not None and self._active.id == body["id"]:
            self._active = None  # before `response.done`: the client may create the next at once
        await self._emit("response.done", response=body)
        async with self._done_condition:
            self._responses_done += 1
            self._done_condition.notify_all()

    def _last_user_text(self) -> str:
        for item in reversed(self.items):
            if item.get("type") == "message" and item.get("role") == "user":
                return self._item_text(item)
        return ""

    def _item_text(self, item: dict[str, Any]) -> str:
        if item["id"] in self._heard:
            return self._heard[item["id"]]
        texts = [
            part.get("text") or part.get("transcript") or ""
            for part in item.get("content") or []
            if isinstance(part, dict)
        ]
        return " ".join(t for t in texts if t)

    def _input_tokens(self, instructions: str, in_conversation: bool) -> tuple[int, int]:
        """A deterministic stand-in for the model's input: a token per word of text, 10 per
        second of user audio, 20 per second of assistant audio."""
        text, audio = words(instructions), 0
        for item in self.items if in_conversation else []:
            duration = self._item_audio_ms.get(item["id"])
            if duration is not None:
                audio += duration // (50 if item.get("role") == "assistant" else 100)
            else:
                text += words(self._item_text(item))
        return text, audio


def _item_problem(item: Any) -> str | None:
    """Why the real service would refuse this `conversation.item.create` item, if it would."""
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return "Missing required parameter: 'item.type'."
    if item["type"] != "message":
        return None  # function calls and their outputs are taken as they come
    role = item.get("role")
    if role not in _CONTENT_TYPES:
        return f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', 'system'."
    content = item.get("content")
    if not isinstance(content, list) or not content:
        return "Missing required parameter: 'item.content'."
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _CONTENT_TYPES[role]:
            allowed = ", ".join(f"'{t}'" for t in sorted(_CONTENT_TYPES[role]))
            return f"Invalid value: '{kind}' for a {role} message. Supported: {allowed}."
    return None


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(item)


_HANDLERS: dict[str, Callable[[RealtimeConnection, Event], Any]] = {
    "session.update": RealtimeConnection._on_session_update,
    "conversation.item.create": RealtimeConnection._on_item_create,
    "conversation.item.delete": RealtimeConnection._on_item_delete,
    "conversation.item.retrieve": RealtimeConnection._on_item_retrieve,
    "conversation.item.truncate": RealtimeConnection._on_item_truncate,
    "input_audio_buffer.append": RealtimeConnection._on_append,
    "input_audio_buffer.commit": RealtimeConnection._on_commit,
    "input_audio_buffer.clear": RealtimeConnection._on_clear,
    "response.create": RealtimeConnection._on_response_create,
    "response.cancel": RealtimeConnection._on_response_cancel,
}
