"""One simulated kiosk's life: stay connected (reconnect with backoff, fresh token when refused),
heartbeat, and now and then hold a text conversation that survives a dropped connection
(`session.resume` with the last `seq` received, inside the gateway's resume window).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
from websockets import ConnectionClosed, InvalidHandshake

from session_gateway.kiosk_simulator import questions
from session_gateway.kiosk_simulator.config import Behaviour
from session_gateway.kiosk_simulator.kiosk_connection import GatewayRefused, KioskConnection
from session_gateway.kiosk_simulator.registry_client import (
    CredentialRejected,
    KioskTokens,
    RegistryError,
)
from session_gateway.kiosk_simulator.state import KioskIdentity

log = logging.getLogger("kiosk_simulator")
STOP_GRACE_S = 5.0  # how long a stopping kiosk waits for its conversation to end cleanly


class ConversationLost(Exception):
    """The conversation cannot go on: ended by the gateway, not resumable, or no answer."""


@dataclass
class KioskStats:
    connections: int = 0
    refusals: int = 0
    heartbeats: int = 0
    conversations: int = 0
    conversations_failed: int = 0
    resumes: int = 0


class SimulatedKiosk:
    def __init__(
        self,
        identity: KioskIdentity,
        tokens: KioskTokens,
        socket_url: str,
        behaviour: Behaviour,
        *,
        seed: int | None = None,
    ) -> None:
        self.identity = identity
        self.tokens = tokens
        self.url = socket_url
        self.behaviour = behaviour
        self.rng = random.Random(seed)
        self.stats = KioskStats()
        self.conn: KioskConnection | None = None
        self.lost_identity = False
        self._stop = asyncio.Event()
        self._conn_changed = asyncio.Condition()
        self._booted = time.monotonic()
        # the running session, as this kiosk knows it
        self.session_id: str | None = None
        self.last_seq = 0
        self._reading: KioskConnection | None = None

    @property
    def name(self) -> str:
        return self.identity.name

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        talker = asyncio.create_task(self._converse_now_and_then(), name=f"{self.name}-talker")
        try:
            await self._stay_connected()
        finally:
            self._stop.set()
            await self._set_connection(self.conn)  # wakes a conversation waiting to resume
            try:
                await asyncio.wait_for(talker, STOP_GRACE_S)
            except (TimeoutError, asyncio.CancelledError):
                talker.cancel()
            except Exception:
                log.exception("%s: conversation task failed", self.name)
            if self.conn is not None:
                await self.conn.close()

    # --- the connection ------------------------------------------------------------------

    async def _set_connection(self, conn: KioskConnection | None) -> None:
        async with self._conn_changed:
            self.conn = conn
            self._conn_changed.notify_all()

    async def _stay_connected(self) -> None:
        delay = self.behaviour.reconnect_initial_s
        while not self._stop.is_set():
            try:
                conn = await KioskConnection.open(self.url, await self.tokens.get())
            except CredentialRejected:
                self.lost_identity = True
                log.error("%s: the registry refused its credential: provision it again", self.name)
                return
            except GatewayRefused as exc:
                # 4401 (token) and 4403 (the gateway has not learnt the kiosk yet, or it was
                # revoked) look alike when refused in the handshake: fresh token, then retry.
                self.stats.refusals += 1
                self.tokens.invalidate()
                log.info("%s: %s; retrying in %.1f s", self.name, exc, delay)
            except (OSError, TimeoutError, InvalidHandshake, RegistryError, httpx.HTTPError) as exc:
                log.info("%s: cannot connect (%s); retrying in %.1f s", self.name, exc, delay)
            else:
                delay = self.behaviour.reconnect_initial_s
                self.stats.connections += 1
                await self._set_connection(conn)
                await self._hold(conn)
                if self._stop.is_set():
                    return  # keep the connection: the conversation may still end its session
                log.info("%s: connection lost (%s); reconnecting", self.name, conn.close_code)
                await self._set_connection(None)
                continue
            if await self._sleep(delay * self.rng.uniform(0.8, 1.2)):
                return
            delay = min(delay * 2, self.behaviour.reconnect_max_s)

    async def _hold(self, conn: KioskConnection) -> None:
        beats = asyncio.create_task(self._heartbeats(conn), name=f"{self.name}-heartbeats")
        stopping = asyncio.create_task(self._stop.wait())
        closed = asyncio.create_task(conn.closed.wait())
        await asyncio.wait({stopping, closed}, return_when=asyncio.FIRST_COMPLETED)
        for task in (beats, stopping, closed):
            task.cancel()

    async def _heartbeats(self, conn: KioskConnection) -> None:
        interval = self.behaviour.heartbeat_interval_s
        # The first beat at once (the fleet sees the kiosk online), then a random phase so that
        # kiosks started together do not all beat in the same instant.
        next_in = self.rng.uniform(0.5, 1.0) * interval
        while True:
            uptime = time.monotonic() - self._booted
            info = questions.hardware_info(self.identity.device_id, uptime, self.rng)
            try:
                await conn.heartbeat(info)
            except ConnectionClosed:
                return
            self.stats.heartbeats += 1
            # Renew the access token before it expires, so a reconnection never waits for it.
            with contextlib.suppress(RegistryError, httpx.HTTPError):
                await self.tokens.get()
            await asyncio.sleep(next_in)
            next_in = interval

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, unless the kiosk is told to stop first; True if it was."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    # --- conversations -------------------------------------------------------------------

    async def _converse_now_and_then(self) -> None:
        every = self.behaviour.conversation_every_s
        if every <= 0:
            return
        while not await self._sleep(self.rng.expovariate(1 / every)):
            if self.conn is None or self.conn.closed.is_set():
                continue  # offline: no member can talk to it
            try:
                await self.converse()
            except (ConnectionClosed, ConversationLost) as exc:
                log.info("%s: could not start a conversation (%s)", self.name, exc)

    async def converse(self, count: int | None = None) -> dict[str, Any] | None:
        """One conversation: session.start, a few questions, session.end. What happened, or None
        when the gateway refused to start it (gym at capacity)."""
        low, high = self.behaviour.questions_per_conversation
        asked = questions.conversation(
            self.identity.language, count or self.rng.randint(low, high), self.rng
        )
        began = time.monotonic()
        if not await self._start_session():
            return None
        session_id, answered, resumes_before = self.session_id, 0, self.stats.resumes
        try:
            for question in asked:
                if self._stop.is_set():
                    break
                await self._session_send({"type": "text", "text": question})
                await self._await_session("response.text.done")
                # the answer arrived whole: the gateway need not keep it for a resume
                await self._session_send({"type": "ack", "seq": self.last_seq})
                answered += 1
                if await self._sleep(self.behaviour.think_time_s):
                    break
            await self._session_send({"type": "session.end"})
            reason = (await self._await_session("session.ended"))["reason"]
            self.stats.conversations += 1
        except ConversationLost as exc:
            reason = f"lost: {exc}"
            self.stats.conversations_failed += 1
        finally:
            self.session_id = None
        result = {
            "session_id": session_id,
            "questions": len(asked),
            "answered": answered,
            "seconds": round(time.monotonic() - began, 1),
            "end": reason,
            "resumes": self.stats.resumes - resumes_before,
        }
        log.info(
            "%s: conversation %s (%s): %d/%d answered in %.1f s, ended %s%s",
            self.name,
            session_id,
            self.identity.language,
            answered,
            len(asked),
            result["seconds"],
            reason,
            f", resumed {result['resumes']}x" if result["resumes"] else "",
        )
        return result

    async def _start_session(self) -> bool:
        conn = self.conn
        if conn is None:
            raise ConversationLost("not connected")
        self._reading, self.last_seq = conn, 0
        await conn.send({"type": "session.start"})
        reply = await self._next_message(time.monotonic() + self.behaviour.answer_timeout_s)
        if reply["type"] == "session.started":
            self.session_id, self.last_seq = reply["session_id"], reply["seq"]
            return True
        if reply.get("code") == "gym_at_capacity":
            log.info("%s: gym at capacity, the member will come back later", self.name)
            return False
        raise ConversationLost(f"session.start answered {reply}")

    async def _session_send(self, message: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.behaviour.answer_timeout_s
        while True:
            conn = self._reading
            if conn is not None and not conn.closed.is_set():
                try:
                    await conn.send(message)
                    return
                except ConnectionClosed:
                    pass
            await self._resume(deadline)

    async def _await_session(self, kind: str) -> dict[str, Any]:
        """Session messages up to the first of type `kind`; duplicates (by seq) are skipped."""
        deadline = time.monotonic() + self.behaviour.answer_timeout_s
        while True:
            message = await self._next_message(deadline)
            seq = message.get("seq")
            if seq is not None:
                if seq <= self.last_seq:
                    continue
                self.last_seq = seq
            if message["type"] == kind:
                return message
            if message["type"] == "session.ended":
                raise ConversationLost(f"the gateway ended the session ({message['reason']})")
            if message["type"] == "error":
                raise ConversationLost(f"{message['code']}: {message['message']}")

    async def _next_message(self, deadline: float) -> dict[str, Any]:
        while True:
            conn = self._reading
            if conn is None:
                raise ConversationLost("not connected")
            remaining = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(conn.messages.get(), max(remaining, 0))
            except TimeoutError:
                raise ConversationLost("no answer in time") from None
            if message is not None:
                return message
            if self.session_id is None:
                raise ConversationLost("connection lost before the session started")
            await self._resume(deadline)

    async def _resume(self, deadline: float) -> None:
        """Wait for the next connection and resume the session on it."""
        old = self._reading

        def usable() -> bool:
            return self._stop.is_set() or (
                self.conn is not None and self.conn is not old and not self.conn.closed.is_set()
            )

        async with self._conn_changed:
            try:
                await asyncio.wait_for(
                    self._conn_changed.wait_for(usable), max(deadline - time.monotonic(), 0)
                )
            except TimeoutError:
                raise ConversationLost("not reconnected in time") from None
        conn = self.conn
        if conn is None or conn is old or conn.closed.is_set():
            raise ConversationLost("stopped while disconnected")
        self._reading = conn
        resume = {"type": "session.resume", "session_id": self.session_id}
        try:
            await conn.send({**resume, "last_seen_seq": self.last_seq})
        except ConnectionClosed:
            return await self._resume(deadline)  # dropped again: wait for the next one
        reply = await self._next_message(deadline)
        if reply["type"] != "session.resumed":
            raise ConversationLost(f"could not resume: {reply.get('code', reply['type'])}")
        self.stats.resumes += 1
