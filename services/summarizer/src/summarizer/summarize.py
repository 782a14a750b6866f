"""Turning closed sessions into stored summaries and `summary.created`, a batch at a time.

For a consumed batch: sessions already summarised (a second `session.closed` under another event
id, a replay) are skipped before any model call; each remaining session is analysed, the model
calls of the batch running at once (the provider bounds how many are in flight); then every
summary is inserted in one statement and announced through the outbox, in the consumer's
transaction. Every outcome is kept in `PendingOutcomes` before anything can fail; if any session
failed (or the transaction does not commit), the consumer replays the batch one event per
transaction and takes the known outcomes back, so only the failing session is retried (or
dead-lettered) and nothing is analysed twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import Any

from sqlalchemy import event as sqlalchemy_event

from jarvis_common.db import UnitOfWork
from jarvis_common.events import Envelope
from jarvis_common.events.catalogue import ChurnSignal, SessionClosed, SummaryCreated
from jarvis_common.logs import log_context
from summarizer import store
from summarizer.analysis import Analysis, bounded
from summarizer.conversation import Conversation, conversation_of, gym_language
from summarizer.metrics import SummarizerMetrics
from summarizer.offline import analyser
from summarizer.outcomes import Outcome, PendingOutcomes
from summarizer.providers import OfflineProvider, Provider
from summarizer.settings import Settings

log = logging.getLogger(__name__)


class BatchIncomplete(Exception):
    """Some sessions of the batch failed: the consumer replays it one event at a time."""


class Summarizer:
    def __init__(
        self,
        provider: Provider,
        settings: Settings,
        metrics: SummarizerMetrics,
        *,
        pending_limit: int = 20_000,
        failure_ttl_s: float = 0.5,
    ):
        self.provider = provider
        self.offline = OfflineProvider()
        self.settings = settings
        self.metrics = metrics
        self.pending = PendingOutcomes(pending_limit, failure_ttl_s=failure_ttl_s)

    async def summarize_sessions(self, events: list[Envelope[Any]], uow: UnitOfWork) -> None:
        first_per_session: dict[uuid.UUID, Envelope[Any]] = {}
        for event in events:
            first_per_session.setdefault(event.data.session_id, event)
        done = await store.summarised(uow.session, list(first_per_session))
        for event in events:
            if (
                event.data.session_id in done
                or first_per_session[event.data.session_id] is not event
            ):
                self.pending.take(event.id)  # nothing to do for it: forget what was kept
        todo = [e for s, e in first_per_session.items() if s not in done]
        results = await self._analyse_all(todo)
        outcomes = [outcome for outcome, _ in results]
        # Kept before anything can fail (a failed session, the insert, the commit): the consumer's
        # one-by-one replay takes them back instead of calling the model again. An error taken
        # back is not kept again, so the retry topic's attempt asks the model afresh.
        self.pending.keep(
            {
                e.id: outcome
                for e, (outcome, fresh) in zip(todo, results, strict=True)
                if fresh or not isinstance(outcome, Exception)
            }
        )
        failed = {e.id: o for e, o in zip(todo, outcomes, strict=True) if isinstance(o, Exception)}
        if failed:
            if len(todo) == 1:
                raise next(iter(failed.values()))
            raise BatchIncomplete(f"{len(failed)} of {len(todo)} sessions failed")
        analysed = list(zip(todo, outcomes, strict=True))
        kept = [e.id for e in todo]
        # Once committed, nothing will replay them: forget the analyses now.
        sqlalchemy_event.listen(
            uow.session.sync_session,
            "after_commit",
            lambda _session: self.pending.forget(kept),
            once=True,
        )
        rows = [self._row(e.data, a) for e, a in analysed]  # type: ignore[arg-type]
        stored = await store.add_new(uow.session, rows)
        for event, analysis in analysed:
            if event.data.session_id in stored:
                uow.trace_id = event.trace_id
                uow.publish(
                    _summary_created(event.data, analysis),  # type: ignore[arg-type]
                    gym_id=event.data.gym_id,
                    franchise_id=event.data.franchise_id,
                )
                self.metrics.summaries.labels(self._provider_of(analysis)).inc()

    async def _analyse_all(self, events: list[Envelope[Any]]) -> list[tuple[Outcome, bool]]:
        if self.provider.remote:
            return list(await asyncio.gather(*(self._outcome(e) for e in events)))
        return [await self._outcome(e) for e in events]

    async def _outcome(self, event: Envelope[Any]) -> tuple[Outcome, bool]:
        """The event's outcome, and whether it was found just now (not taken back)."""
        kept = self.pending.take(event.id)
        if kept is not None:
            return kept, False
        closed: SessionClosed = event.data
        conversation = conversation_of(closed, self.settings.default_language)
        with log_context(event_id=event.id, trace_id=event.trace_id, session_id=closed.session_id):
            try:
                return await self._analyse(conversation), True
            except Exception as exc:
                log.warning("session could not be summarised: %s", exc)
                return exc, True

    async def _analyse(self, conversation: Conversation) -> Analysis:
        # Nothing to ask a model about: the offline provider's trivial summary, free and immediate.
        provider = self.provider if conversation.member_spoke else self.offline
        analysis = await provider.analyse(conversation)
        return dataclasses.replace(analysis, result=bounded(analysis.result))

    def _provider_of(self, analysis: Analysis) -> str:
        return self.offline.name if analysis.model == analyser.MODEL else self.provider.name

    def _row(self, closed: SessionClosed, analysis: Analysis) -> dict[str, Any]:
        return _row(
            closed,
            analysis,
            provider=self._provider_of(analysis),
            summary_language=gym_language(closed.language, self.settings.default_language),
        )


def _row(
    closed: SessionClosed, analysis: Analysis, *, provider: str, summary_language: str
) -> dict[str, Any]:
    result = analysis.result
    return {
        "session_id": closed.session_id,
        "kiosk_id": closed.kiosk_id,
        "gym_id": closed.gym_id,
        "franchise_id": closed.franchise_id,
        "member_id": closed.member_id,
        "summary": result.summary,
        "language": result.conversation_language,
        "summary_language": summary_language,
        "sentiment_label": result.sentiment_label,
        "sentiment_score": result.sentiment_score,
        "topics": list(result.topics),
        "tags": result.tags,
        "goals": result.goals,
        "follow_ups": result.follow_ups,
        "churn_signals": [s.model_dump() for s in result.churn_signals],
        "member_satisfied": result.member_satisfied,
        "provider": provider,
        "model": analysis.model,
        "input_tokens": analysis.input_tokens,
        "cached_input_tokens": analysis.cached_input_tokens,
        "output_tokens": analysis.output_tokens,
        "cost_usd": analysis.cost_usd,
        "session_ended_at": closed.ended_at,
    }


def _summary_created(closed: SessionClosed, analysis: Analysis) -> SummaryCreated:
    result = analysis.result
    return SummaryCreated(
        session_id=closed.session_id,
        kiosk_id=closed.kiosk_id,
        gym_id=closed.gym_id,
        member_id=closed.member_id,
        summary=result.summary,
        language=result.conversation_language,
        sentiment_label=result.sentiment_label,
        sentiment_score=result.sentiment_score,
        topics=tuple(result.topics),
        tags=tuple(result.tags),
        goals=tuple(result.goals),
        follow_ups=tuple(result.follow_ups),
        churn_signals=tuple(
            ChurnSignal(kind=s.kind, evidence=s.evidence) for s in result.churn_signals
        ),
        member_satisfied=result.member_satisfied,
        model=analysis.model,
        cost_usd=analysis.cost_usd,
        session_ended_at=closed.ended_at,
    )
