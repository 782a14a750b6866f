"""The fake HTTP API: `POST /v1/chat/completions` and `POST /v1/responses`, scripted by `HttpFake`.

Every request is answered by a `Reply`: the next queued one, else what `responder` returns, else
`default_reply`. A reply renders itself in the shape of the endpoint it answers, the shapes the
SDK's `ChatCompletion` and `Response` models validate; a structured-output reply is the scripted
object as JSON text, which `client.chat.completions.parse` / `client.responses.parse` parse.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse

from jarvis_common.testing.fake_openai._common import wait_until, words

if TYPE_CHECKING:
    from jarvis_common.testing.fake_openai.server import FakeOpenAI


@dataclass(frozen=True)
class HttpUsage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one HTTP request."""

    content: str | None = None  # the model's text; JSON text for structured output
    status: int = 200
    error: dict[str, Any] | None = None  # the `error` object of a non-200 answer
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (longer than the client timeout: a timeout)
    usage: HttpUsage | None = None  # default: words in, words out
    finish_reason: str = "stop"  # "length" makes `.parse()` raise LengthFinishReasonError
    refusal: str | None = None
    body: Any = None  # a raw body instead of the rendered one (a dict, or text sent as is)

    # ----------------------------------------------------------------- answers

    @classmethod
    def text(cls, text: str, **options: Any) -> Reply:
        return cls(content=text, **options)

    @classmethod
    def structured(cls, value: Any, **options: Any) -> Reply:
        """The scripted object as the JSON text the SDK parses (a dict, list or pydantic model)."""
        if hasattr(value, "model_dump_json"):
            return cls(content=value.model_dump_json(), **options)
        return cls(content=json.dumps(value), **options)

    @classmethod
    def malformed(cls, text: str = '{"summary": 42, "unexpected": true}', **options: Any) -> Reply:
        """An answer that does not fit the requested schema (or is not JSON at all)."""
        return cls(content=text, **options)

    @classmethod
    def refused(cls, refusal: str = "I'm sorry, I can't help with that.", **options: Any) -> Reply:
        return cls(refusal=refusal, **options)

    @classmethod
    def truncated(cls, text: str = '{"summary": "cut sho', **options: Any) -> Reply:
        return cls(content=text, finish_reason="length", **options)

    # ----------------------------------------------------------------- failures

    @classmethod
    def rate_limited(cls, retry_after: float = 0.01, **options: Any) -> Reply:
        """429 with `retry-after`/`retry-after-ms`: the SDK waits that long, then retries."""
        headers = {"retry-after": f"{retry_after:g}", "retry-after-ms": f"{retry_after * 1000:g}"}
        return cls(
            status=429,
            error={
                "message": "Rate limit reached for requests. Please try again shortly.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            },
            headers={**headers, **options.pop("headers", {})},
            **options,
        )

    @classmethod
    def quota_exceeded(cls, **options: Any) -> Reply:
        """429 insufficient_quota: permanent, though the SDK retries every 429."""
        return cls(
            status=429,
            error={
                "message": (
                    "You exceeded your current quota, please check your plan and billing details."
                ),
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            },
            **options,
        )

    @classmethod
    def server_error(cls, status: int = 500, **options: Any) -> Reply:
        return cls(
            status=status,
            error={
                "message": (
                    "The server had an error while processing your request. Sorry about that!"
                ),
                "type": "server_error",
                "param": None,
                "code": None,
            },
            **options,
        )

    @classmethod
    def invalid_api_key(cls, **options: Any) -> Reply:
        return cls(
            status=401,
            error={
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            },
            **options,
        )

    @classmethod
    def bad_request(cls, message: str, param: str | None = None, **options: Any) -> Reply:
        return cls(
            status=400,
            error={
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            },
            **options,
        )

    def after(self, seconds: float) -> Reply:
        """This reply, answered `seconds` late."""
        return dataclasses.replace(self, delay=seconds)


@dataclass
class RecordedRequest:
    """One request the fake received."""

    endpoint: str  # "chat.completions" | "responses" | the path, for anything else
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # the parsed JSON body (None if it was not JSON)
    received_at: float = field(default_factory=time.monotonic)
    status: int | None = None  # what the fake answered
    client_disconnected: bool = False  # the client went away before the answer (its timeout)

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def retry_count(self) -> int:
        """The SDK's `x-stainless-retry-count`: 0 for a first attempt, then 1, 2..."""
        return int(self.headers.get("x-stainless-retry-count", "0") or 0)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The `json_schema` format the client asked for (`response_format` or `text.format`):
        {"name": ..., "schema": ..., "strict": ...}, or None."""
        if not isinstance(self.body, dict):
            return None
        chat_format = self.body.get("response_format") or {}
        if chat_format.get("type") == "json_schema":
            return chat_format.get("json_schema")
        text_format = (self.body.get("text") or {}).get("format") or {}
        if text_format.get("type") == "json_schema":
            return {k: v for k, v in text_format.items() if k != "type"}
        return None

    @property
    def text(self) -> str:
        """Every piece of text the client sent: messages, input, instructions."""
        if not isinstance(self.body, dict):
            return ""
        pieces: list[str] = []

        def collect(value: Any) -> None:
            if isinstance(value, str):
                pieces.append(value)
            elif isinstance(value, list):
                for entry in value:
                    collect(entry)
            elif isinstance(value, dict):
                for key in ("content", "text", "input", "instructions"):
                    if key in value:
                        collect(value[key])

        collect(self.body.get("instructions"))
        collect(self.body.get("messages"))
        collect(self.body.get("input"))
        return "\n".join(pieces)


class HttpFake:
    """The HTTP half of the fake: replies to queue, a responder, the record of requests."""

    def __init__(self, server: FakeOpenAI) -> None:
        self._server = server
        self.requests: list[RecordedRequest] = []
        self.default_reply = Reply.text("This is the fake model's answer.")
        self.responder: Callable[[RecordedRequest], Reply | None] | None = None
        self._replies: deque[Reply] = deque()

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests (any endpoint) with these, in order."""
        self._replies.extend(replies)

    @property
    def pending(self) -> int:
        return len(self._replies)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    async def wait_for_requests(
        self, count: int = 1, *, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        await wait_until(
            lambda: len(self.requests) >= count, timeout=timeout, message=f"{count} HTTP requests"
        )
        return self.requests[:count]

    # ----------------------------------------------------------------- serving

    def _pick(self, request: RecordedRequest) -> Reply:
        if self._replies:
            return self._replies.popleft()
        if self.responder is not None:
            reply = self.responder(request)
            if reply is not None:
                return reply
        return self.default_reply

    async def _serve(self, request: Request, endpoint: str) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(
            endpoint=endpoint,
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        self.requests.append(record)
        reply = self._check(record) or self._pick(record)
        if reply.delay > 0:
            record.client_disconnected = await self._wait(request, reply.delay)
        status, headers, payload = self._render(reply, record)
        record.status = status
        headers = {"x-request-id": self._server.ids.next("req"), **headers}
        if isinstance(payload, str | bytes):
            from fastapi.responses import Response

            return Response(
                payload, status_code=status, headers=headers, media_type="application/json"
            )  # type: ignore[return-value]
        return JSONResponse(payload, status_code=status, headers=headers)

    def _check(self, record: RecordedRequest) -> Reply | None:
        """What the real API refuses before any model runs."""
        expected = self._server.api_key
        if expected is not None and record.headers.get("authorization") != f"Bearer {expected}":
            return Reply.invalid_api_key()
        if record.endpoint not in ("chat.completions", "responses"):
            return Reply(
                status=404,
                error={
                    "message": f"Invalid URL ({record.method} {record.path})",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                },
            )
        if not isinstance(record.body, dict):
            return Reply.bad_request("We could not parse the JSON body of your request.")
        if not record.model:
            return Reply.bad_request("you must provide a model parameter", "model")
        if record.body.get("stream"):
            return Reply.bad_request("The fake OpenAI server does not stream.", "stream")
        return None

    async def _wait(self, request: Request, seconds: float) -> bool:
        """Sleep `seconds` (cut short if the fake stops); True if the client disconnected."""

        async def disconnected() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        watcher = asyncio.ensure_future(disconnected())
        stopping = asyncio.ensure_future(self._server._stopping.wait())
        try:
            done, _ = await asyncio.wait(
                {watcher, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            watcher.cancel()
            stopping.cancel()
        return watcher in done

    def _render(self, reply: Reply, record: RecordedRequest) -> tuple[int, dict[str, str], Any]:
        if reply.body is not None:
            return reply.status, reply.headers, reply.body
        if reply.status != 200:
            return reply.status, reply.headers, {"error": reply.error or {}}
        content = reply.content
        usage = reply.usage or HttpUsage(words(record.text), words(content or reply.refusal))
        model = record.model or "gpt-fake"
        if record.endpoint == "chat.completions":
            return 200, reply.headers, self._chat(reply, content, usage, model)
        return 200, reply.headers, self._response(reply, content, usage, model, record)

    def _chat(
        self, reply: Reply, content: str | None, usage: HttpUsage, model: str
    ) -> dict[str, Any]:
        return {
            "id": self._server.ids.next("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None if reply.refusal else content,
                        "refusal": reply.refusal,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": usage.cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": usage.reasoning_tokens,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
        }

    def _response(
        self,
        reply: Reply,
        content: str | None,
        usage: HttpUsage,
        model: str,
        record: RecordedRequest,
    ) -> dict[str, Any]:
        if reply.refusal:
            part: dict[str, Any] = {"type": "refusal", "refusal": reply.refusal}
        else:
            part = {"type": "output_text", "text": content or "", "annotations": [], "logprobs": []}
        incomplete = reply.finish_reason == "length"
        request = record.body if isinstance(record.body, dict) else {}
        return {
            "id": self._server.ids.next("resp"),
            "object": "response",
            "created_at": int(time.time()),
            "status": "incomplete" if incomplete else "completed",
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"),
            "model": model,
            "output": [
                {
                    "type": "message",
                    "id": self._server.ids.next("msg"),
                    "status": "incomplete" if incomplete else "completed",
                    "role": "assistant",
                    "content": [part],
                }
            ],
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": request.get("store", True),
            "temperature": request.get("temperature", 1.0),
            "text": request.get("text") or {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": request.get("top_p", 1.0),
            "truncation": "disabled",
            "metadata": request.get("metadata") or {},
            "usage": {
                "input_tokens": usage.prompt_tokens,
                "input_tokens_details": {
                    "cached_tokens": usage.cached_tokens,
                    "cache_write_tokens": 0,
                },
                "output_tokens": usage.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            },
        }
