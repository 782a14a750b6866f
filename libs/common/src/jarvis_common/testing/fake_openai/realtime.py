"""The fake Realtime API: `RealtimeFake` holds the script and the connections.

It follows the GA Realtime protocol as the `openai` SDK models it (`openai.types.realtime`):
client events in, server events out, in the order the real service sends them. What it cannot
know (the words of an answer, what the user said in their audio, when things fail) comes from
the script the test writes. Each accepted WebSocket is a `RealtimeConnection`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket
from fastapi.responses import JSONResponse

from jarvis_common.testing.fake_openai._common import wait_until
from jarvis_common.testing.fake_openai.connection import RealtimeConnection
from jarvis_common.testing.fake_openai.script import (
    Answer,
    ErrorSpec,
    Fault,
    Matcher,
    Transcript,
    TurnContext,
    _Rule,
    echo_answer,
)

if TYPE_CHECKING:
    from jarvis_common.testing.fake_openai.server import FakeOpenAI


class RealtimeFake:
    """The realtime half of the fake: its script, its fault injection and its connections."""

    def __init__(self, server: FakeOpenAI) -> None:
        self._server = server
        self.connections: list[RealtimeConnection] = []
        self.refused = 0  # handshakes refused by `refuse_connections`
        self.default_answer: Answer | Callable[[TurnContext], Answer] = echo_answer
        self.default_transcript = Transcript()
        self.faults: list[Fault] = []
        self.max_session_seconds: float | None = None  # the provider's 60-minute cap, scaled
        self.vad_threshold = 1000  # a chunk whose peak sample reaches this is speech
        self.vad_speech_chunks: int | None = None  # also end a turn after this many chunks
        self.invalid_key_close_code = 1008
        self.legacy_item_created = False  # also send beta-era `conversation.item.created`
        self._answers: deque[Answer] = deque()
        self._rules: list[_Rule] = []
        self._transcripts: deque[Transcript] = deque()
        self._refuse_count: int | None = None
        self._refuse_until = 0.0
        self._refuse_status = 503

    # ----------------------------------------------------------------- scripting

    def queue_answers(self, *answers: Answer | str) -> None:
        """Answers used in this order, one per response, before any `answer_when` rule."""
        self._answers.extend(Answer(a) if isinstance(a, str) else a for a in answers)

    def answer_when(
        self,
        when: Matcher,
        answer: Answer | str | Callable[[TurnContext], Answer],
        *,
        times: int | None = None,
    ) -> None:
        """Answer with `answer` when the user's text contains `when` (case-insensitive), matches
        the regex, or when the predicate says so."""
        self._rules.append(
            _Rule(when, Answer(answer) if isinstance(answer, str) else answer, times)
        )

    def queue_transcripts(self, *transcripts: Transcript | str) -> None:
        """Transcripts of the next committed audio turns, in order (then `default_transcript`)."""
        self._transcripts.extend(Transcript(t) if isinstance(t, str) else t for t in transcripts)

    def fail_on(
        self,
        on: str,
        error: ErrorSpec | None = None,
        *,
        close_code: int | None = None,
        times: int | None = 1,
        skip: int = 0,
    ) -> Fault:
        """On the client event `on` (or `"connect"`, right after `session.created`): send
        `error` and/or close with `close_code` instead of handling the event."""
        fault = Fault(on, error, close_code, times, skip)
        self.faults.append(fault)
        return fault

    def refuse_connections(
        self, *, count: int | None = None, seconds: float | None = None, status: int = 503
    ) -> None:
        """Refuse the WebSocket handshake (HTTP `status`) for the next `count` attempts and/or
        for `seconds`; with neither, until `accept_connections()`."""
        self._refuse_status = status
        self._refuse_count = count
        self._refuse_until = time.monotonic() + seconds if seconds is not None else 0.0
        if count is None and seconds is None:
            self._refuse_until = float("inf")

    def accept_connections(self) -> None:
        self._refuse_count = None
        self._refuse_until = 0.0

    def rate_limits(self) -> list[dict[str, Any]]:
        """What `rate_limits.updated` reports (sent after each `response.created`)."""
        return [
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
            {"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5},
        ]

    # ----------------------------------------------------------------- observing

    @property
    def last(self) -> RealtimeConnection:
        return self.connections[-1]

    async def wait_for_connection(
        self, number: int = 1, *, timeout: float = 5.0
    ) -> RealtimeConnection:
        """Wait until `number` connections were accepted; return the `number`-th (1-based)."""
        await wait_until(
            lambda: len(self.connections) >= number,
            timeout=timeout,
            message=f"realtime connection #{number}",
        )
        return self.connections[number - 1]

    # ----------------------------------------------------------------- internals

    def _take_refusal(self) -> int | None:
        if self._refuse_count is not None and self._refuse_count > 0:
            self._refuse_count -= 1
            return self._refuse_status
        if time.monotonic() < self._refuse_until:
            return self._refuse_status
        return None

    def _pick_answer(self, ctx: TurnContext) -> Answer:
        if self._answers:
            return self._answers.popleft()
        for rule in list(self._rules):
            if rule.matches(ctx):
                rule.used += 1
                if rule.times is not None and rule.used >= rule.times:
                    self._rules.remove(rule)
                return rule.answer(ctx) if callable(rule.answer) else rule.answer
        default = self.default_answer
        return default(ctx) if callable(default) else default

    def _pick_transcript(self) -> Transcript:
        return self._transcripts.popleft() if self._transcripts else self.default_transcript

    async def _serve(self, websocket: WebSocket) -> None:
        status = self._take_refusal()
        if status is not None:
            self.refused += 1
            error = ErrorSpec("The server is temporarily unavailable.", None, "server_error")
            await websocket.send_denial_response(
                JSONResponse({"error": error.body()}, status_code=status)
            )
            return
        connection = RealtimeConnection(self, self._server, websocket, len(self.connections) + 1)
        self.connections.append(connection)
        await connection._run()
