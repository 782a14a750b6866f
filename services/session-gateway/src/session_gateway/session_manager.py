"""The sessions one gateway process runs: starting them (gym capacity, member context), resuming
them on a new connection, and ending them all on shutdown. One session is live_session.py."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from openai import AsyncOpenAI

from jarvis_common.events.catalogue import SessionEndReason, SessionStarted
from jarvis_common.service import ServiceApp
from jarvis_common.tokens import TokenVerifier
from jarvis_common.ws_protocol import TextChannel
from session_gateway import protocol as p
from session_gateway.heartbeats import HeartbeatWriter
from session_gateway.kiosk_directory import KioskLookup, KnownKiosk, find_kiosk
from session_gateway.live_session import LiveSession
from session_gateway.member_directory import MemberOfAnotherGym, member_context
from session_gateway.offline_assistant import OfflineAssistant
from session_gateway.providers import ConversationProvider, ProviderUnavailable
from session_gateway.realtime_relay import RealtimeRelay, realtime_client
from session_gateway.sessions import GymAtCapacity, open_session
from session_gateway.settings import Settings

log = logging.getLogger(__name__)

ProviderFactory = Callable[[], ConversationProvider]


class Connection:
    """One kiosk WebSocket (its text channel: sends are whole and in call order)."""

    def __init__(self, channel: TextChannel, kiosk: KnownKiosk) -> None:
        self.channel = channel
        self.kiosk = kiosk
        self.session: LiveSession | None = None
        self.open = True

    async def send(self, message: dict[str, Any] | str) -> bool:
        """Send a message, or its JSON text (already encoded by the replay log)."""
        if not self.open:
            return False
        if not await self.channel.send(message if isinstance(message, str) else p.encode(message)):
            self.open = False  # the socket is gone; the reader sees the disconnect
        return self.open

    def can_send_now(self) -> bool:
        return self.open and self.channel.can_send_now()

    def send_now(self, text: str) -> None:
        """Send without awaiting, when can_send_now() said so; never raises (it runs in a read
        callback, after the session has taken the message)."""
        if not self.channel.send_now(text):
            self.open = False


def provider_factory_for(settings: Settings) -> tuple[ProviderFactory, AsyncOpenAI | None]:
    """The Realtime relay when an OpenAI key is configured, else the offline assistant."""
    if not settings.realtime_enabled:
        return OfflineAssistant, None
    client = realtime_client(settings)
    return (lambda: RealtimeRelay(settings, client)), client


class SessionManager:
    def __init__(
        self,
        app: ServiceApp,
        settings: Settings,
        provider_factory: ProviderFactory | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        default_factory, self.openai = provider_factory_for(settings)
        self.provider_factory = provider_factory or default_factory
        self.live: dict[uuid.UUID, LiveSession] = {}
        self.instance_id = uuid.uuid4()
        self.kiosks = KioskLookup(app.db, settings.kiosk_cache_ttl_s)
        self.heartbeats = HeartbeatWriter(app.db)
        self._verifiers: dict[str, TokenVerifier] = {}

    def verifier(self, public_key: str) -> TokenVerifier:
        if public_key not in self._verifiers:
            self._verifiers[public_key] = TokenVerifier(public_key)
        return self._verifiers[public_key]

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
            try:
                member = await member_context(uow, member_id, kiosk.gym_id)
            except MemberOfAnotherGym:
                return p.error("unknown_member", "this gym has no member with that id")
        session = LiveSession(self, kiosk, member, self.provider_factory())
        started = SessionStarted(
            session_id=session.id,
            kiosk_id=kiosk.kiosk_id,
            gym_id=kiosk.gym_id,
            member_id=member_id,
            started_at=session.started_at,
            model=session.provider.name or kiosk.config.openai_model,
            voice=kiosk.config.voice_model if session.provider.accepts_audio else None,
        )
        try:
            async with self.app.db.unit_of_work() as uow:
                await open_session(
                    uow,
                    started,
                    franchise_id=kiosk.franchise_id,
                    max_concurrent=kiosk.config.max_concurrent_sessions,
                    owner=self.instance_id,
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
        try:
            # before session.started: audio the kiosk sends once told must have somewhere to go
            await session.begin()
        except ProviderUnavailable as exc:
            log.warning("session %s: provider unavailable: %s", session.id, exc.message)
            session.end_detail = exc.code
            await session.emit(self._started_message(session))
            await session.end("upstream_fatal")
            return None
        await session.emit(self._started_message(session))
        return None

    @staticmethod
    def _started_message(session: LiveSession) -> dict[str, Any]:
        return {
            "type": "session.started",
            "session_id": str(session.id),
            "accepts_audio": session.provider.accepts_audio,
        }

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
    """A stop hook of the service: open sessions end, and their session.closed events leave
    with the relay's final publish."""
    manager = manager_of(app)
    await manager.end_all("gateway_shutdown")
    if manager.openai is not None:
        await manager.openai.close()
