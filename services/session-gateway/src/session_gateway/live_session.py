"""One live conversation: what the kiosk sends in, what the provider answers, and every way it
ends.

A session belongs to the gateway process, not to a connection: when the kiosk's connection drops
the session waits `resume_window_s` for the same kiosk to resume it, and every session message
carries a `seq`, so the kiosk says what it last received and gets exactly what follows.

Every end path (kiosk ended, idle timeout, maximum duration, kiosk gone, upstream fatal, budget,
gateway shutdown) goes through `LiveSession.end`, which stores the transcript, usage, cost and
timings and publishes `session.closed` through the open -> closed transition
(sessions.close_session), so it is published exactly once. While it runs, the transcript is
checkpointed to the session's row, so a gateway that dies loses nothing another one cannot close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jarvis_common.events.catalogue import SessionClosed, SessionEndReason, TokenUsage
from session_gateway import realtime_config
from session_gateway.kiosk_directory import KnownKiosk
from session_gateway.pricing import Cost, add_usage, session_cost
from session_gateway.providers import (
    AssistantAudioDelta,
    AssistantAudioDone,
    AssistantTextDelta,
    AssistantTextDone,
    ConversationProvider,
    ItemAdded,
    MemberContext,
    ProviderEvent,
    ProviderFatal,
    SpeechStarted,
    SpeechStopped,
    UsageReport,
    UserTranscript,
)
from session_gateway.replay_log import ReplayLog
from session_gateway.sessions import checkpoint_session, close_session
from session_gateway.transcript import Transcript

if TYPE_CHECKING:
    from session_gateway.session_manager import Connection, SessionManager

log = logging.getLogger(__name__)
CHECKPOINT_INTERVAL_S = 1.0


class LiveSession:
    def __init__(
        self,
        manager: SessionManager,
        kiosk: KnownKiosk,
        member: MemberContext,
        provider: ConversationProvider,
    ) -> None:
        settings = manager.settings
        self.manager = manager
        self.id = uuid.uuid4()
        self.kiosk = kiosk
        self.config = kiosk.config
        self.member = member
        self.provider = provider
        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self.last_activity = self._started
        self.detached_at: float | None = None
        self.conn: Connection | None = None
        self.ended = False
        self.end_reason: SessionEndReason | None = None
        self.transcript = Transcript()
        self.usage = TokenUsage()
        self.cost = Cost(Decimal("0"), "")
        self.end_detail: str | None = None
        self._log = ReplayLog(settings.replay_buffer, settings.replay_buffer_bytes)
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._dirty = asyncio.Event()
        self._muted: set[str] = set()  # assistant items the member talked over
        self._playing: str | None = None  # the assistant item whose audio was sent last
        self._tasks: list[asyncio.Task[None]] = []
        self._pump: asyncio.Task[None] | None = None
        self._end_lock = asyncio.Lock()
        self._closed = asyncio.Event()

    # --- kiosk side -------------------------------------------------------------------

    async def emit(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            text = self._log.append(message)
            if self.conn is not None:
                await self.conn.send(text)

    async def _emit_audio(self, event: AssistantAudioDelta) -> None:
        async with self._send_lock:
            text = self._take_audio(event)
            if text is not None and self.conn is not None:
                await self.conn.send(text)

    def _emit_audio_now(self, event: ProviderEvent) -> bool:
        """The audio delta taken and sent at once (from the upstream socket's read callback),
        if nothing is being sent and the kiosk's socket takes it without waiting."""
        conn = self.conn
        if (
            not isinstance(event, AssistantAudioDelta)
            or self._send_lock.locked()
            or (conn is not None and not conn.can_send_now())
        ):
            return False
        text = self._take_audio(event)
        if text is not None and conn is not None:
            conn.send_now(text)  # does not raise: a failed send marks the connection gone
        return True

    def _take_audio(self, event: AssistantAudioDelta) -> str | None:
        """Account for an assistant audio delta; its kiosk message, or None if talked over."""
        if event.item_id in self._muted:
            return None  # talked over: the kiosk stopped playing it
        self._playing = event.item_id
        self.transcript.assistant_audio(event.item_id, event.audio)
        self._active()
        return self._log.append_audio(event.item_id, event.audio)

    async def attach(self, conn: Connection, last_seen_seq: int) -> None:
        """The kiosk (re)connected: replay what it has not seen, then stream live."""
        async with self._send_lock:
            previous = self.conn
            if previous is not None and previous is not conn:
                previous.session = None
            conn.session = self
            self.conn = conn
            self.detached_at = None
            await conn.send(
                {
                    "type": "session.resumed",
                    "session_id": str(self.id),
                    "last_seq": self._log.last_seq,
                    # > last_seen_seq + 1 when older messages were no longer held
                    "first_seq": max(self._log.first_seq, last_seen_seq + 1),
                }
            )
            for text in self._log.after(last_seen_seq):
                await conn.send(text)
        self._changed.set()

    def acknowledged(self, seq: int) -> bool:
        """The kiosk received every message up to `seq`; False if none that high was sent."""
        if seq > self._log.last_seq:
            return False
        self._log.forget_through(seq)
        return True

    def detach(self, conn: Connection) -> None:
        if self.conn is conn:
            self.conn = None
            self.detached_at = time.monotonic()
            self._changed.set()

    def _active(self) -> None:
        # Only moves the idle deadline later: the watchdog finds out when it wakes up, so the
        # busy path (an audio delta every 100 ms) does not wake it.
        self.last_activity = time.monotonic()

    # --- member input -------------------------------------------------------------------

    async def user_text(self, text: str) -> None:
        self._active()
        await self.provider.send_user_text(text)

    async def user_audio(self, audio: str) -> None:
        # not activity by itself: only speech the provider detects counts (noise does not)
        await self.provider.append_audio(audio)

    def user_audio_now(self, audio: str) -> bool:
        return self.provider.append_audio_now(audio)

    async def playback_stopped(self, item_id: str, played_ms: int) -> bool:
        """The kiosk stopped playing `item_id` after `played_ms`; False if no such audio."""
        end_ms = self.transcript.truncate(item_id, played_ms)
        if end_ms is None:
            return False
        self._muted.add(item_id)
        self._dirty.set()
        await self.provider.truncate(item_id, end_ms)
        return True

    # --- provider side ------------------------------------------------------------------

    async def _run_provider(self) -> None:
        await self.provider.run(self._on_provider_event, self._emit_audio_now)

    async def _on_provider_event(self, event: Any) -> None:
        if isinstance(event, AssistantAudioDelta):
            await self._emit_audio(event)
        elif isinstance(event, AssistantTextDelta):
            self.transcript.assistant_delta(event.item_id, event.delta)
            self._active()
            await self.emit(
                {"type": "response.text.delta", "item_id": event.item_id, "delta": event.delta}
            )
        elif isinstance(event, ItemAdded):
            self.transcript.add(event.item_id, event.previous_item_id, event.role)
        elif isinstance(event, UserTranscript):
            self.transcript.user_said(event.item_id, event.text, failed=event.transcription_failed)
            self._active()
            self._dirty.set()
            message = {"type": "transcript", "item_id": event.item_id, "role": "user"}
            message["text"] = event.text
            if event.transcription_failed:
                message["transcription_failed"] = True
            await self.emit(message)
        elif isinstance(event, AssistantTextDone):
            self.transcript.assistant_done(event.item_id, event.text)
            self._active()
            self._dirty.set()
            item = self.transcript.get(event.item_id)
            text = item.text if item is not None and item.text is not None else event.text
            await self.emit({"type": "response.text.done", "item_id": event.item_id, "text": text})
        elif isinstance(event, AssistantAudioDone):
            if event.item_id not in self._muted:
                await self.emit({"type": "response.audio.done", "item_id": event.item_id})
        elif isinstance(event, SpeechStarted):
            self._active()
            message: dict[str, Any] = {"type": "speech.started"}
            if self._playing is not None:
                message["item_id"] = self._playing
            await self.emit(message)
        elif isinstance(event, SpeechStopped):
            self._active()
        elif isinstance(event, UsageReport):
            self._add_usage(event.usage)
        elif isinstance(event, ProviderFatal):
            log.warning("session %s: provider fatal %s: %s", self.id, event.code, event.message)
            self._end_soon("upstream_fatal", detail=event.code)

    def _add_usage(self, usage: TokenUsage) -> None:
        self.usage = add_usage(self.usage, usage)
        self.cost = session_cost(self.usage, self.provider.name, self.provider.transcription_model)
        self._dirty.set()
        if self.cost.usd >= self.config.session_budget_usd:
            log.warning(
                "session %s: cost %s reached the budget %s",
                self.id,
                self.cost.usd,
                self.config.session_budget_usd,
            )
            self._end_soon("budget_exceeded")

    def _end_soon(self, reason: SessionEndReason, detail: str | None = None) -> None:
        # not awaited here: ending drains the very loop that noticed it
        self.end_detail = detail
        self._tasks.append(asyncio.create_task(self.end(reason)))

    # --- timers and checkpoints -----------------------------------------------------------

    async def _watch(self) -> None:
        """Ends the session at the first deadline: idle, maximum duration, resume window."""
        resume_window = self.manager.settings.resume_window_s
        while not self.ended:
            deadlines: dict[SessionEndReason, float] = {
                "idle_timeout": self.last_activity + self.config.idle_timeout_s,
                "max_duration": self._started + self.config.max_duration_s,
            }
            if self.detached_at is not None:
                deadlines["kiosk_gone"] = self.detached_at + resume_window
            reason, at = min(deadlines.items(), key=lambda kv: kv[1])
            now = time.monotonic()
            if at <= now:
                await self.end(reason)
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), at - now)

    async def _checkpoints(self) -> None:
        while not self.ended:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                async with self.manager.app.db.unit_of_work() as uow:
                    await checkpoint_session(
                        uow, self.id, self.transcript.final(), self.usage, self.cost.usd
                    )
            except Exception:  # the next one, or the end, writes it
                log.warning("session %s: checkpoint failed", self.id, exc_info=True)
            await asyncio.sleep(CHECKPOINT_INTERVAL_S)

    # --- lifecycle ----------------------------------------------------------------------

    async def begin(self) -> None:
        """Open the provider's conversation (ProviderUnavailable if it cannot), then run."""
        await self.provider.start(self.config, self.member, self.transcript.history)
        self._pump = asyncio.create_task(self._run_provider(), name=f"session-{self.id}-pump")
        self._tasks.append(asyncio.create_task(self._watch(), name=f"session-{self.id}-watch"))
        self._tasks.append(asyncio.create_task(self._checkpoints(), name=f"session-{self.id}-cp"))

    async def end(self, reason: SessionEndReason) -> None:
        async with self._end_lock:
            already = self.ended
            self.ended = True
            if not already:
                self.end_reason = reason
        if already:  # another end path is recording it: wait until it is done
            await self._closed.wait()
            return
        try:
            await self._finish(reason)
        finally:
            self._closed.set()

    async def _finish(self, reason: SessionEndReason) -> None:
        settings = self.manager.settings
        if reason == "max_duration" and self._pump is not None:
            instructions = realtime_config.wrap_up_instructions(self.config, self.member)
            try:
                await asyncio.wait_for(
                    self.provider.wrap_up(instructions), settings.wrap_up_timeout_s
                )
            except Exception:
                log.warning("session %s: no spoken wrap-up", self.id, exc_info=True)
        # Whatever the provider still has (a late transcript) is part of the session.
        try:
            await self.provider.close(settings.end_grace_s)
        except Exception:
            log.exception("session %s: provider did not close cleanly", self.id)
        if self._pump is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._pump), settings.end_grace_s)
            except (TimeoutError, asyncio.CancelledError):
                self._pump.cancel()
            except Exception:
                log.exception("session %s: provider failed", self.id)
        event = SessionClosed(
            session_id=self.id,
            kiosk_id=self.kiosk.kiosk_id,
            gym_id=self.kiosk.gym_id,
            franchise_id=self.kiosk.franchise_id,
            member_id=self.member.member_id,
            started_at=self.started_at,
            ended_at=datetime.now(UTC),
            end_reason=reason,
            language=self.config.language,
            model=self.provider.name,
            transcript=self.transcript.final(),
            usage=self.usage,
            cost_usd=self.cost.usd,
            price_table_version=self.cost.price_table_version or None,
        )
        try:
            async with self.manager.app.db.unit_of_work() as uow:
                await close_session(uow, event)
        except Exception:  # the row stays open with its last checkpoint: the sweep closes it
            log.exception("session %s: could not record its end (%s)", self.id, reason)
        message: dict[str, Any] = {"type": "session.ended", "session_id": str(self.id)}
        message["reason"] = reason
        if self.end_detail:
            message["detail"] = self.end_detail
        await self.emit(message)
        if self.conn is not None and self.conn.session is self:
            self.conn.session = None
        self.manager.live.pop(self.id, None)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()
