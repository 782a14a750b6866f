"""The OpenAI provider: one structured-output chat completion per conversation.

Failures are sorted so the platform can route them:
- transient (rate limit, 5xx, timeout, connection): the SDK's exception propagates as is, the
  consumer republishes the event to its retry topic with backoff (the SDK's own retries are kept
  at `openai_max_retries`, 0 by default, so no batch waits on them);
- permanent (no quota, bad key, no access, bad request, unknown model): `PermanentError` with the
  API's code and message, so the dead letter says why;
- an answer that is not the schema (malformed JSON, truncated at the token limit, a refusal, a
  content filter): asked once more at once (a truncated answer with twice the token limit); a
  second bad answer is permanent, because the same conversation keeps producing it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from decimal import Decimal

import openai
import pydantic
from openai import AsyncOpenAI
from openai.lib._parsing._completions import type_to_response_format_param
from openai.types.chat import ChatCompletion

from jarvis_common.errors import PermanentError
from summarizer import prompt
from summarizer.analysis import Analysis, ConversationAnalysis
from summarizer.conversation import Conversation
from summarizer.metrics import SummarizerMetrics
from summarizer.pricing import call_cost, price_for
from summarizer.settings import Settings

CALLS_PER_CLIENT = 16
PERMANENT_CODES = {"insufficient_quota", "invalid_api_key", "model_not_found"}

# The strict JSON schema `chat.completions.parse(response_format=ConversationAnalysis)` would
# send, built once with the SDK's own converter: `.parse` rebuilds it from the pydantic model on
# every call, which cost more CPU than the rest of a summary (see docs/summarizer.md).
RESPONSE_FORMAT = type_to_response_format_param(ConversationAnalysis)


class BadAnswer(Exception):
    """The model answered, but not with an analysis."""


class OpenAIProvider:
    name = "openai"
    remote = True

    def __init__(self, settings: Settings, metrics: SummarizerMetrics):
        assert settings.openai_api_key is not None
        self.settings = settings
        self.metrics = metrics
        # httpx's pool looks at every connection it holds to place each request: one pool of
        # hundreds of connections costs milliseconds of CPU per call. Several small pools
        # (clients), taken in turn, keep that cost flat however many calls run at once.
        self.clients = [
            AsyncOpenAI(
                api_key=settings.openai_api_key.get_secret_value(),
                base_url=settings.openai_base_url,
                timeout=settings.openai_timeout_s,
                max_retries=settings.openai_max_retries,
            )
            for _ in range(math.ceil(settings.max_concurrent_calls / CALLS_PER_CLIENT))
        ]
        self._next_client = itertools.cycle(self.clients)
        # One provider serves the whole service, so this bounds every call in flight, over all
        # the sessions being summarised, to what the account's rate limit is sized for.
        self.calls = asyncio.Semaphore(settings.max_concurrent_calls)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.close()

    async def analyse(self, conversation: Conversation) -> Analysis:
        # The slot is held through the one re-ask, as a bad answer is asked again at once.
        async with self.calls:
            self.metrics.calls_in_flight.inc()
            try:
                return await self._analyse(conversation)
            finally:
                self.metrics.calls_in_flight.dec()

    async def _analyse(self, conversation: Conversation) -> Analysis:
        max_tokens = self.settings.max_output_tokens
        try:
            return await self._call(conversation, max_tokens)
        except openai.LengthFinishReasonError:
            max_tokens *= 2
        except BadAnswer:
            pass
        try:
            return await self._call(conversation, max_tokens)
        except (openai.LengthFinishReasonError, BadAnswer) as exc:
            raise PermanentError(f"the model answered badly twice: {_short(exc)}") from exc

    async def _call(self, conversation: Conversation, max_tokens: int) -> Analysis:
        started = time.perf_counter()
        outcome = "ok"
        try:
            completion = await next(self._next_client).chat.completions.create(
                model=self.settings.model,
                messages=prompt.messages(conversation, self.settings.max_transcript_chars),  # type: ignore[arg-type]
                max_completion_tokens=max_tokens,
                # Sent as is: the SDK's parameter transform would walk the whole schema on every
                # call, for a dict that needs no transforming.
                extra_body={"response_format": RESPONSE_FORMAT},
            )
            parsed = _parsed(completion)
        except openai.LengthFinishReasonError:
            outcome = "truncated"
            raise
        except (pydantic.ValidationError, openai.ContentFilterFinishReasonError) as exc:
            outcome = "malformed"
            raise BadAnswer(_short(exc)) from exc
        except BadAnswer:
            outcome = "refused"
            raise
        except openai.APIStatusError as exc:
            if _is_permanent(exc):
                outcome = "permanent_error"
                raise PermanentError(
                    f"OpenAI {exc.status_code} {_code(exc)}: {_short(exc)}"
                ) from exc
            outcome = "transient_error"
            raise
        except openai.APIError:
            outcome = "transient_error"  # timeouts, connection errors
            raise
        finally:
            self.metrics.model_calls.labels(outcome).inc()
            self.metrics.model_call_seconds.observe(time.perf_counter() - started)
        return self._analysis(parsed, completion)

    def _analysis(self, parsed: ConversationAnalysis, completion: ChatCompletion) -> Analysis:
        usage = completion.usage
        input_tokens = usage.prompt_tokens if usage else 0
        output_tokens = usage.completion_tokens if usage else 0
        details = usage.prompt_tokens_details if usage else None
        cached = (details.cached_tokens or 0) if details else 0
        model = completion.model or self.settings.model
        price = price_for(model, self.settings.prices) or price_for(
            self.settings.model, self.settings.prices
        )
        if price is None:
            # A model missing from the price table: the summary is kept, its cost reads 0.
            self.metrics.unpriced_calls.inc()
            cost = Decimal("0")
        else:
            cost = call_cost(
                price,
                input_tokens=input_tokens,
                cached_input_tokens=cached,
                output_tokens=output_tokens,
            )
        self.metrics.tokens.labels("input").inc(input_tokens)
        self.metrics.tokens.labels("cached_input").inc(cached)
        self.metrics.tokens.labels("output").inc(output_tokens)
        self.metrics.cost_usd.inc(float(cost))
        return Analysis(
            parsed,
            model=model,
            input_tokens=input_tokens,
            cached_input_tokens=cached,
            output_tokens=output_tokens,
            cost_usd=cost,
        )


def _parsed(completion: ChatCompletion) -> ConversationAnalysis:
    """What `chat.completions.parse` does with an answer, without its per-call schema work."""
    choice = completion.choices[0]
    if choice.finish_reason == "length":
        raise openai.LengthFinishReasonError(completion=completion)
    if choice.finish_reason == "content_filter":
        raise openai.ContentFilterFinishReasonError(completion=completion)
    if choice.message.refusal or not choice.message.content:
        raise BadAnswer(f"refused: {choice.message.refusal or 'no content'}")
    return ConversationAnalysis.model_validate_json(choice.message.content)


def _is_permanent(exc: openai.APIStatusError) -> bool:
    if _code(exc) in PERMANENT_CODES:
        return True  # insufficient_quota is a 429 the SDK would retry forever
    return exc.status_code in (400, 401, 403, 404, 422)


def _code(exc: openai.APIStatusError) -> str:
    return str(getattr(exc, "code", None) or "")


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]
