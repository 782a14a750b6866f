"""Live sessions over the kiosk WebSocket: start, conversation, resume, and every way they end.

A session belongs to the gateway process, not to a connection: when the kiosk's connection
drops the session waits `resume_window_s` for the same kiosk to resume it (`session.resume`),
and every session message carries a `seq`, so the kiosk says what it last received and gets
exactly what follows, nothing missing or duplicated.

Every end path (kiosk ended, idle timeout, maximum duration, kiosk gone, upstream fatal,
gateway shutdown) goes through `LiveSession.end`, which stores the transcript, usage and timings
and publishes `session.closed` through the open -> closed transition (sessions.close_session),
so it is published exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import WebSocket

from jarvis_common.events.catalogue import (
    SessionClosed,
    SessionEndReason,
    SessionStarted,
    TokenUsage,
    TranscriptItem,
)
from jarvis_common.service import ServiceApp
from session_gateway import offline_assistant
from session_gateway import protocol as p
from session_gateway.kiosk_directory import KnownKiosk, find_kiosk
from session_gateway.offline_assistant import OfflineAssistant
from session_gateway.providers import (
    AssistantTextDelta,
    AssistantTextDone,
    ConversationProvider,
    MemberContext,
    ProviderFatal,
    UsageReport,
    UserTranscript,
)
from session_gateway.sessions import GymAtCapacity, close_session, open_session
from session_gateway.settings import Settings

log = logging.getLogger(__name__)
DRAIN_TIMEOUT_S = 2.0  # how long an ending session waits for the provider's last events


class Connection:
    """One kiosk WebSocket; sends are serialised (the session and the reader both send)."""

    def __init__(self, ws: WebSocket, kiosk: KnownKiosk) -> None:
        self.ws = ws
        self.kiosk = kiosk
        self.session: LiveSession | None = None
        self.open = True
        self._lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> bool:
        if not self.open:
            return False
        async with self._lock:
            try:
                await self.ws.send_json(message)
                return True
            except Exception:  # the socket is gone; the reader will see the disconnect
                self.open = False
                return False


def order_by_chain(items: list[tuple[str, str | None]]) -> list[str]:
    """Item ids in conversation order: follow each item's `previous_item_id` from the start.

    Items whose predecessor is unknown are appended in arrival order, never dropped.
    """
    after: dict[str | None, list[str]] = {}
    for item_id, previous in items:
        after.setdefault(previous, []).append(item_id)
    ordered: list[str] = []
    seen: set[str] = set()
    stack = list(reversed(after.get(None, [])))
    while stack:
        item_id = stack.pop()
        if item_id in seen:
            continue
        seen.add(item_id)
        ordered.append(item_id)
        stack.extend(reversed(after.get(item_id, [])))
    ordered += [item_id for item_id, _ in items if item_id not in seen]
    return ordered


class LiveSession:
    def __init__(
        self,
        manager: SessionManager,
        kiosk: KnownKiosk,
        member_id: uuid.UUID | None,
        provider: ConversationProvider,
    ) -> None:
        self.manager = manager
        self.id = uuid.uuid4()
        self.kiosk = kiosk
        self.config = kiosk.config
        self.member_id = member_id
        self.provider = provider
        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self.last_activity = self._started
        self.detached_at: float | None = None
        self.conn: Connection | None = None
        self.ended = False
        self.end_reason: SessionEndReason | None = None
        self._seq = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=manager.settings.replay_buffer)
        self._lock = asyncio.Lock()
        self._chain: list[tuple[str, str | None]] = []
        self._items: dict[str, TranscriptItem] = {}
        self._roles: dict[str, str] = {}
        self._turns = 0
        self.usage = TokenUsage()
        self._changed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._end_lock = asyncio.Lock()
        self._closed = asyncio.Event()
        self._fatal_end: asyncio.Task[None] | None = None

    # --- kiosk side -------------------------------------------------------------------

    async def emit(self, message: dict[str, Any]) -> None:
        async with self._lock:
            self._seq += 1
            message = {**message, "seq": self._seq}
            self._log.append(message)
            if self.conn is not None:
                await self.conn.send(message)

    async def attach(self, conn: Connection, last_seen_seq: int) -> None:
        """The kiosk (re)connected: replay what it has not seen, then stream live."""
        async with self._lock:
            previous = self.conn
            if previous is not None and previous is not conn:
                previous.session = None
            conn.session = self
            self.conn = conn
            self.detached_at = None
            await conn.send(
                {"type": "session.resumed", "session_id": str(self.id), "last_seq": self._seq}
            )
            for message in self._log:
                if message["seq"] > last_seen_seq:
                    await conn.send(message)
        self._changed.set()

    def detach(self, conn: Connection) -> None:
        if self.conn is conn:
            self.conn = None
            self.detached_at = time.monotonic()
            self._changed.set()

    # --- conversation -----------------------------------------------------------------

    def _add_item(self, item_id: str, role: str) -> None:
        previous = self._chain[-1][0] if self._chain else None
        self._chain.append((item_id, previous))
        self._roles[item_id] = role

    def _store(self, item_id: str, text: str, *, failed: bool = False) -> None:
        role = self._roles.get(item_id, "assistant")
        self._items[item_id] = TranscriptItem(
            item_id=item_id,
            role=role,  # type: ignore[arg-type]
            text=text,
            transcription_failed=failed,
            at=datetime.now(UTC),
        )

    async def user_text(self, text: str) -> None:
        self.last_activity = time.monotonic()
        self._changed.set()
        self._turns += 1
        user_item, reply_item = f"u{self._turns}", f"a{self._turns}"
        self._add_item(user_item, "user")
        self._add_item(reply_item, "assistant")
        await self.provider.send_user_text(user_item, text, reply_item)

    async def _run_provider(self) -> None:
        async for event in self.provider.events():
            if isinstance(event, UserTranscript):
                self._store(event.item_id, event.text, failed=event.transcription_failed)
                await self.emit(
                    {
                        "type": "transcript",
                        "item_id": event.item_id,
                        "role": "user",
                        "text": event.text,
                    }
                )
            elif isinstance(event, AssistantTextDelta):
                self.last_activity = time.monotonic()
                await self.emit(
                    {"type": "response.text.delta", "item_id": event.item_id, "delta": event.delta}
                )
            elif isinstance(event, AssistantTextDone):
                self.last_activity = time.monotonic()
                self._changed.set()
                self._store(event.item_id, event.text)
                await self.emit(
                    {"type": "response.text.done", "item_id": event.item_id, "text": event.text}
                )
            elif isinstance(event, UsageReport):
                self.usage = TokenUsage(
                    **{
                        name: getattr(self.usage, name) + getattr(event.usage, name)
                        for name in TokenUsage.model_fields
                    }
                )
            elif isinstance(event, ProviderFatal):
                log.warning("session %s: provider fatal: %s", self.id, event.message)
                # not awaited here: ending drains this very loop
                self._fatal_end = asyncio.create_task(self.end("upstream_fatal"))

    async def _watch(self) -> None:
        """Ends the session at the first deadline: idle, maximum duration, resume window."""
        while not self.ended:
            deadlines: dict[SessionEndReason, float] = {
                "idle_timeout": self.last_activity + self.config.idle_timeout_s,
                "max_duration": self._started + self.config.max_duration_s,
            }
            if self.detached_at is not None:
                deadlines["kiosk_gone"] = self.detached_at + self.manager.settings.resume_window_s
            reason, at = min(deadlines.items(), key=lambda kv: kv[1])
            now = time.monotonic()
            if at <= now:
                await self.end(reason)
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), at - now)

    # --- lifecycle ----------------------------------------------------------------------

    async def begin(self) -> None:
        await self.provider.start(self.config, MemberContext(member_id=self.member_id))
        self._pump = asyncio.create_task(self._run_provider(), name=f"session-{self.id}-pump")
        self._watchdog = asyncio.create_task(self._watch(), name=f"session-{self.id}-watch")

    def transcript(self) -> tuple[TranscriptItem, ...]:
        return tuple(self._items[i] for i in order_by_chain(self._chain) if i in self._items)

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
        if reason == "max_duration":
            self._turns += 1
            item_id = f"a{self._turns}"
            self._add_item(item_id, "assistant")
            text = offline_assistant.wrap_up(self.config)
            self._store(item_id, text)
            await self.emit({"type": "response.text.delta", "item_id": item_id, "delta": text})
            await self.emit({"type": "response.text.done", "item_id": item_id, "text": text})
        # Whatever the provider still has (a late transcript) is part of the session.
        await self.provider.close()
        if self._pump is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._pump), DRAIN_TIMEOUT_S)
            except (TimeoutError, asyncio.CancelledError):
                self._pump.cancel()
            except Exception:
                log.exception("session %s: provider failed", self.id)
        ended_at = datetime.now(UTC)
        event = SessionClosed(
            session_id=self.id,
            kiosk_id=self.kiosk.kiosk_id,
            gym_id=self.kiosk.gym_id,
            franchise_id=self.kiosk.franchise_id,
            member_id=self.member_id,
            started_at=self.started_at,
            ended_at=ended_at,
            end_reason=reason,
            language=self.config.language,
            model=self.provider.name,
            transcript=self.transcript(),
            usage=self.usage,
            cost_usd=Decimal("0"),
        )
        try:
            async with self.manager.app.db.unit_of_work() as uow:
                await close_session(uow, event)
        except Exception:
            log.exception("session %s: could not record its end (%s)", self.id, reason)
        await self.emit({"type": "session.ended", "session_id": str(self.id), "reason": reason})
        if self.conn is not None and self.conn.session is self:
            self.conn.session = None
        self.manager.live.pop(self.id, None)
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()


ProviderFactory = Callable[[], ConversationProvider]


class SessionManager:
    def __init__(
        self,
        app: ServiceApp,
        settings: Settings,
        provider_factory: ProviderFactory = OfflineAssistant,
    ) -> None:
        self.app = app
        self.settings = settings
        self.provider_factory = provider_factory
        self.live: dict[uuid.UUID, LiveSession] = {}

    async def start(self, conn: Connection, member_id: uuid.UUID | None) -> dict[str, Any] | None:
        """Start a session on this connection; an error message if it is refused."""
        if conn.session is not None:
            return p.error(
                "session_already_active",
                "this connection already runs a session; end it first",
                session_id=str(conn.session.id),
            )
        async with self.app.db.unit_of_work() as uow:
            kiosk = await find_kiosk(uow, conn.kiosk.kiosk_id)
        if kiosk is None or kiosk.revoked:
            return p.error("kiosk_revoked", "this kiosk may no longer run sessions")
        session = LiveSession(self, kiosk, member_id, self.provider_factory())
        started = SessionStarted(
            session_id=session.id,
            kiosk_id=kiosk.kiosk_id,
            gym_id=kiosk.gym_id,
            member_id=member_id,
            started_at=session.started_at,
            model=session.provider.name,
        )
        try:
            async with self.app.db.unit_of_work() as uow:
                await open_session(
                    uow,
                    started,
                    franchise_id=kiosk.franchise_id,
                    max_concurrent=kiosk.config.max_concurrent_sessions,
                )
        except GymAtCapacity as exc:
            return p.error(
                "gym_at_capacity",
                f"session refused: {exc}; try again when a conversation ends",
                max_concurrent_sessions=kiosk.config.max_concurrent_sessions,
            )
        self.live[session.id] = session
        conn.session = session
        session.conn = conn
        await session.emit({"type": "session.started", "session_id": str(session.id)})
        await session.begin()
        return None

    async def resume(
        self, conn: Connection, session_id: uuid.UUID, last_seen_seq: int
    ) -> dict[str, Any] | None:
        if conn.session is not None:
            return p.error(
                "session_already_active",
                "this connection already runs a session",
                session_id=str(conn.session.id),
            )
        session = self.live.get(session_id)
        if session is None or session.ended or session.kiosk.kiosk_id != conn.kiosk.kiosk_id:
            return p.error(
                "unknown_session", "no open session with this id for this kiosk (it has ended)"
            )
        await session.attach(conn, last_seen_seq)
        return None

    def disconnected(self, conn: Connection) -> None:
        conn.open = False
        if conn.session is not None:
            conn.session.detach(conn)
            conn.session = None

    async def end_all(self, reason: SessionEndReason) -> None:
        await asyncio.gather(*(s.end(reason) for s in list(self.live.values())))


def manager_of(app: ServiceApp) -> SessionManager:
    manager: SessionManager = app.http.state.sessions
    return manager


async def end_sessions_on_shutdown(app: ServiceApp) -> None:
    """A background task of the service: when the service stops, open sessions end."""
    try:
        await asyncio.Event().wait()
    finally:
        await manager_of(app).end_all("gateway_shutdown")
