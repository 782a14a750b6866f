"""The fake OpenAI server, driven by the real `openai` SDK over loopback.

Every realtime test also validates each event the fake sent against the SDK's own pydantic
model for that event type (the SDK itself parses without validating).
"""

from __future__ import annotations

import asyncio
import base64
import time
import typing
from collections.abc import AsyncIterator
from typing import Any, Literal

import pydantic
import pytest
from openai import (
    APITimeoutError,
    AsyncOpenAI,
    AuthenticationError,
    InternalServerError,
    LengthFinishReasonError,
    OpenAI,
    RateLimitError,
)
from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from jarvis_common.testing.fake_openai import (
    BYTES_PER_MS,
    Answer,
    ErrorSpec,
    FakeOpenAI,
    RealtimeConnection,
    RealtimeUsage,
    Reply,
    Transcript,
    silence_pcm,
    speech_pcm,
)
from jarvis_common.testing.waiting import wait_for

MODEL = "gpt-realtime"

_EVENT_MODELS: dict[str, type[pydantic.BaseModel]] = {
    typing.get_args(model.model_fields["type"].annotation)[0]: model
    for model in typing.get_args(typing.get_args(RealtimeServerEvent)[0])
}


def assert_valid_events(server: RealtimeConnection) -> None:
    """Each event the fake sent validates against the SDK's model for its type."""
    assert server.sent
    for event in server.sent:
        _EVENT_MODELS[event["type"]].model_validate(event)


async def receive_until(connection: Any, last: str, *, timeout: float = 5.0) -> list[Any]:
    events = []
    async with asyncio.timeout(timeout):
        while True:
            events.append(await connection.recv())
            if events[-1].type == last:
                return events


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    openai_client = AsyncOpenAI(**fake_openai.client_options(max_retries=0))
    yield openai_client
    await openai_client.close()


# --------------------------------------------------------------------------- realtime


async def test_a_text_turn_follows_the_protocol_and_reports_usage(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    usage = RealtimeUsage(input_text=120, input_audio=30, cached_text=64, output_text=5)
    fake_openai.realtime.answer_when("open", Answer("We open at six.", usage=usage))
    async with client.realtime.connect(model=MODEL) as connection:
        assert (await connection.recv()).type == "session.created"
        await connection.session.update(
            session={
                "type": "realtime",
                "instructions": "You are the gym's concierge.",
                "output_modalities": ["text"],
            }
        )
        updated = (await receive_until(connection, "session.updated"))[-1]
        assert updated.session.instructions == "You are the gym's concierge."
        await connection.conversation.item.create(item=user_text("When do you open?"))
        await connection.response.create()
        events = await receive_until(connection, "response.done")

    assert [e.type for e in events] == [
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 4,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "We open at six."
    assert events[5].previous_item_id == events[0].item.id  # the assistant item follows the user's
    done = events[-1].response
    assert done.status == "completed"
    assert done.usage.input_tokens == 150
    assert done.usage.input_token_details.audio_tokens == 30
    assert done.usage.input_token_details.cached_tokens == 64
    assert done.usage.output_tokens == 5

    server = fake_openai.realtime.last
    assert (server.path, server.model, server.api_key) == (
        "/v1/realtime",
        MODEL,
        "sk-fake-test-key",
    )
    assert server.received_types() == [
        "session.update",
        "conversation.item.create",
        "response.create",
    ]
    assert server.session["instructions"] == "You are the gym's concierge."
    assert server.conversation() == [
        ("user", "When do you open?"),
        ("assistant", "We open at six."),
    ]
    assert_valid_events(server)


async def test_default_usage_counts_words_and_caches_the_previous_prefix(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.session.update(
            session={"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]}
        )
        usages = []
        for question in ("Do you have a pool?", "And a sauna?"):
            await connection.conversation.item.create(item=user_text(question))
            await connection.response.create()
            usages.append((await receive_until(connection, "response.done"))[-1].response.usage)

    first, second = usages
    # "Be brief." + "Do you have a pool?"; the echo answer "You said: Do you have a pool?".
    assert (first.input_tokens, first.input_token_details.cached_tokens) == (7, 0)
    assert first.output_tokens == 7
    assert second.input_tokens == 7 + 7 + 3
    assert second.input_token_details.cached_tokens == 7  # the first turn's prompt is cached


async def test_a_spoken_turn_is_detected_transcribed_and_answered_in_audio(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.queue_transcripts("What are your opening hours?")
    fake_openai.realtime.answer_when("opening hours", Answer("From six to eleven."))
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {
                        "transcription": {"model": "gpt-4o-mini-transcribe"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 200},
                    }
                },
            }
        )
        await receive_until(connection, "session.updated")
        for chunk in (silence_pcm(100), speech_pcm(100), speech_pcm(100), silence_pcm(100)):
            await connection.input_audio_buffer.append(audio=b64(chunk))
        await connection.input_audio_buffer.append(audio=b64(silence_pcm(100)))
        events = await receive_until(connection, "response.done")

    types = [e.type for e in events]
    assert types[:6] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.delta",
    ]
    started, stopped, committed = events[:3]
    assert (started.audio_start_ms, stopped.audio_end_ms) == (100, 500)
    assert started.item_id == stopped.item_id == committed.item_id == events[3].item.id
    transcribed = events[types.index("conversation.item.input_audio_transcription.completed")]
    assert transcribed.item_id == committed.item_id
    assert transcribed.transcript == "What are your opening hours?"
    assert transcribed.usage.input_tokens == 5  # 500 ms of audio
    assert types.index("conversation.item.input_audio_transcription.completed") < types.index(
        "response.created"
    )
    words = [e.delta for e in events if e.type == "response.output_audio_transcript.delta"]
    audio = b"".join(
        base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
    )
    assert "".join(words) == "From six to eleven."
    assert len(audio) == 4 * 100 * BYTES_PER_MS  # one 100 ms chunk per word, PCM16 24 kHz
    usage = events[-1].response.usage
    assert usage.input_token_details.audio_tokens == 5
    assert usage.output_token_details.audio_tokens == 8  # 400 ms of answer
    assert_valid_events(fake_openai.realtime.last)


async def test_transcripts_can_arrive_after_the_answer_or_fail(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.vad_speech_chunks = 2  # a turn = two chunks of speech
    unintelligible = ErrorSpec(
        "Audio unintelligible", "audio_unintelligible", "transcription_error"
    )
    fake_openai.realtime.queue_transcripts(
        Transcript("I want to cancel", after_response=True), Transcript(fail=unintelligible)
    )
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"transcription": {"model": "whisper-1"}}},
            }
        )
        await receive_until(connection, "session.updated")
        for _ in range(2):
            await connection.input_audio_buffer.append(audio=b64(speech_pcm(100)))
        first = await receive_until(
            connection, "conversation.item.input_audio_transcription.completed"
        )
        for _ in range(2):
            await connection.input_audio_buffer.append(audio=b64(speech_pcm(100)))
        second = await receive_until(connection, "response.done")

    types = [e.type for e in first]
    assert types.index("response.done") < types.index(
        "conversation.item.input_audio_transcription.completed"
    )
    answer = first[types.index("response.done")].response.output[0].content[0].transcript
    assert answer == "You said: I want to cancel"  # the model heard it before the transcript came
    failed = next(
        e for e in second if e.type == "conversation.item.input_audio_transcription.failed"
    )
    committed = next(e for e in second if e.type == "input_audio_buffer.committed")
    assert failed.item_id == committed.item_id
    assert failed.error.code == "audio_unintelligible"
    server = fake_openai.realtime.last
    assert [role for role, _ in server.conversation()] == ["user", "assistant"] * 2
    assert server.items[0]["content"][0]["transcript"] == "I want to cancel"
    assert_valid_events(server)


async def test_a_wrong_api_key_gets_a_fatal_error_event_then_the_close() -> None:
    async with FakeOpenAI(api_key="sk-the-right-key") as fake:
        client = AsyncOpenAI(**fake.client_options(api_key="sk-a-wrong-key-1234"))
        async with client.realtime.connect(model=MODEL) as connection:
            assert (await connection.recv()).type == "session.created"
            error = await connection.recv()
            assert error.type == "error"
            assert error.error.code == "invalid_api_key"
            assert "1234" in error.error.message and "wrong" not in error.error.message
            with pytest.raises(ConnectionClosedError) as closed:
                await connection.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await client.close()


async def test_error_events_keep_the_socket_open(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.fail_on("response.create", ErrorSpec.insufficient_quota())
    release = asyncio.Event()
    fake_openai.realtime.queue_answers(
        Answer("Sorry, my quota is gone.", fail=ErrorSpec.insufficient_quota()),
        Answer("one two three", modality="text", hold_until=release),
    )
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.conversation.item.create(item=user_text("Hello?"))
        await connection.response.create()
        quota = (await receive_until(connection, "error"))[-1]
        assert (quota.error.type, quota.error.code) == ("insufficient_quota", "insufficient_quota")

        await connection.response.create()  # the fault fired once: this one runs, and fails
        failed = (await receive_until(connection, "response.done"))[-1].response
        assert failed.status == "failed"
        assert failed.status_details.error.code == "insufficient_quota"

        await connection.response.cancel()  # nothing to cancel: benign
        benign = (await receive_until(connection, "error"))[-1]
        assert benign.error.code == "response_cancel_not_active"

        await connection.response.create()
        await receive_until(connection, "response.output_text.delta")
        await connection.response.create()  # one is already active: benign
        active = (await receive_until(connection, "error"))[-1]
        assert active.error.code == "conversation_already_has_active_response"
        release.set()
        done = (await receive_until(connection, "response.done"))[-1].response
        assert done.status == "completed"

    server = fake_openai.realtime.last
    assert server.sent_types().count("error") == 3
    assert server.close_code == 1000 and server.closed_by == "client"
    assert_valid_events(server)


async def test_a_drop_mid_response_is_a_1006_and_the_next_session_starts_empty(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.queue_answers(Answer("one two three four five", drop_after=2))
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.session.update(session={"type": "realtime", "instructions": "Persona."})
        await connection.conversation.item.create(item=user_text("Count to five."))
        await connection.response.create()
        received = []
        with pytest.raises(ConnectionClosedError) as closed:
            while True:
                received.append((await connection.recv()).type)
    assert closed.value.rcvd is None  # no close frame: the TCP connection was cut (1006)
    assert received.count("response.output_audio.delta") == 2
    assert "response.done" not in received
    first = fake_openai.realtime.connections[0]
    assert (first.close_code, first.closed_by) == (1006, "server")

    async with client.realtime.connect(model=MODEL) as connection:
        created = await connection.recv()
        assert created.session.instructions != "Persona."  # a new upstream session is empty
        await connection.session.update(session={"type": "realtime", "instructions": "Persona."})
        await connection.conversation.item.create(item=user_text("Count to five."))
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "one two"}],
            }
        )
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": "x"}],
            }
        )
        error = (await receive_until(connection, "error"))[-1]
        assert error.error.param == "item"  # beta-era content types are refused

    second = await fake_openai.realtime.wait_for_connection(2)
    assert second.session["instructions"] == "Persona."
    assert second.conversation() == [("user", "Count to five."), ("assistant", "one two")]
    assert second.items[1]["id"] != second.items[0]["id"]
    assert_valid_events(second)


async def test_the_sdk_reconnects_by_itself_after_a_1011_but_replays_nothing(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.fail_on("connect", ErrorSpec.server_error(), close_code=1011)
    attempts = []
    manager = client.realtime.connect(
        model=MODEL, on_reconnecting=lambda event: attempts.append(event), initial_delay=0.01
    )
    events = []
    async with manager as connection, asyncio.timeout(5):
        async for event in connection:  # only iteration reconnects; `recv()` raises instead
            events.append(event)
            if len(events) == 3:
                break
    assert [e.type for e in events] == ["session.created", "error", "session.created"]
    assert events[0].session.id != events[2].session.id
    assert [a.close_code for a in attempts] == [1011]
    assert len(fake_openai.realtime.connections) == 2
    assert fake_openai.realtime.connections[1].received == []


async def test_refused_connections_then_accepted(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.refuse_connections(count=2, status=503)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as refused:
            async with client.realtime.connect(model=MODEL):
                pass
        assert refused.value.response.status_code == 503
    async with client.realtime.connect(model=MODEL) as connection:
        assert (await connection.recv()).type == "session.created"
    assert fake_openai.realtime.refused == 2
    assert len(fake_openai.realtime.connections) == 1


async def test_the_session_cap_is_session_expired_then_close_1001(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.max_session_seconds = 0.2
    started = time.monotonic()
    async with client.realtime.connect(model=MODEL) as connection:
        assert (await connection.recv()).type == "session.created"
        expired = await connection.recv()
        assert (expired.type, expired.error.code) == ("error", "session_expired")
        with pytest.raises(ConnectionClosed) as closed:
            await connection.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert time.monotonic() - started >= 0.2

    async with client.realtime.connect(model=MODEL) as connection:
        async with asyncio.timeout(5):
            seen = [event.type async for event in connection]  # 1001 ends iteration quietly
    assert seen == ["session.created", "error"]


async def test_cancel_and_truncate_a_spoken_answer(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.queue_answers(Answer("a b c d e f g h i j", hold_until=asyncio.Event()))
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.conversation.item.create(item=user_text("Tell me everything."))
        await connection.response.create()
        events = await receive_until(connection, "response.output_audio.delta")
        item_id = events[-1].item_id
        await connection.response.cancel()
        done = (await receive_until(connection, "response.done"))[-1].response
        assert done.status == "cancelled"
        assert done.status_details.reason == "client_cancelled"
        assert done.output[0].status == "incomplete"
        assert done.output[0].content[0].transcript == "a"  # held after the first word

        await connection.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=101
        )
        too_far = (await receive_until(connection, "error"))[-1]
        assert too_far.error.param == "audio_end_ms"
        await connection.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=50
        )
        truncated = (await receive_until(connection, "conversation.item.truncated"))[-1]
        assert (truncated.item_id, truncated.audio_end_ms) == (item_id, 50)

    server = fake_openai.realtime.last
    assert server.truncations == {item_id: 50}
    assert_valid_events(server)


async def test_speech_during_an_answer_interrupts_it(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.queue_answers(Answer("a b c d e f g h i j", hold_until=asyncio.Event()))
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.conversation.item.create(item=user_text("Tell me everything."))
        await connection.response.create()
        await receive_until(connection, "response.output_audio.delta")
        await connection.input_audio_buffer.append(audio=b64(speech_pcm(100)))
        events = await receive_until(connection, "response.done")
    types = [e.type for e in events]
    assert types.index("input_audio_buffer.speech_started") < types.index("response.done")
    assert events[-1].response.status_details.reason == "turn_detected"


async def test_manual_commits_and_an_out_of_band_wrap_up(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.realtime.answer_when(
        lambda ctx: "wrap up" in ctx.response_instructions, Answer("Time is up, goodbye!")
    )
    fake_openai.realtime.queue_transcripts(Transcript("Is the pool open?", delay=0.1))
    async with client.realtime.connect(model=MODEL) as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None, "transcription": {"model": "x"}}},
            }
        )
        await connection.input_audio_buffer.append(audio=b64(speech_pcm(60)))
        await connection.input_audio_buffer.commit()
        too_short = (await receive_until(connection, "error"))[-1]
        assert too_short.error.code == "input_audio_buffer_commit_empty"
        await connection.input_audio_buffer.append(audio=b64(speech_pcm(60)))
        await connection.input_audio_buffer.commit()
        await receive_until(connection, "conversation.item.done")
        await connection.response.create(
            response={"conversation": "none", "instructions": "Please wrap up now."}
        )
        events = await receive_until(
            connection, "conversation.item.input_audio_transcription.completed"
        )

    types = [e.type for e in events]
    assert "input_audio_buffer.speech_started" not in types  # no VAD: nothing detected
    done = events[types.index("response.done")].response
    assert done.conversation_id is None
    assert done.output[0].content[0].text == "Time is up, goodbye!"
    assert "conversation.item.added" not in types  # out of band: not in the conversation
    server = fake_openai.realtime.last
    assert server.conversation() == [("user", "Is the pool open?")]
    assert_valid_events(server)


async def test_the_record_and_controls_from_the_test_side(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    async with client.realtime.connect(model=MODEL) as connection:
        server = await fake_openai.realtime.wait_for_connection()
        await connection.send({"type": "no.such.event"})
        bogus = (await receive_until(connection, "error"))[-1]
        assert bogus.error.param == "type"
        await server.send_error(ErrorSpec("Scripted trouble.", "scripted"))
        scripted = (await receive_until(connection, "error"))[-1]
        assert scripted.error.code == "scripted"
        await server.expire()
        with pytest.raises(ConnectionClosed):
            await receive_until(connection, "never")
    assert await server.wait_closed() == 1001
    assert server.received_types() == ["no.such.event"]


# --------------------------------------------------------------------------- HTTP


class Summary(pydantic.BaseModel):
    summary: str
    sentiment: Literal["positive", "neutral", "negative"]
    topics: list[str]


EXPECTED = Summary(summary="Asked about the pool.", sentiment="positive", topics=["facilities"])
MESSAGES: Any = [{"role": "user", "content": "Summarise: member asked about the pool hours."}]


async def test_chat_completions_parse_returns_the_scripted_object(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.http.queue(Reply.structured(EXPECTED))
    completion = await client.chat.completions.parse(
        model="gpt-4o-mini", messages=MESSAGES, response_format=Summary
    )
    assert completion.choices[0].message.parsed == EXPECTED
    assert completion.usage is not None and completion.usage.prompt_tokens == 7
    request = fake_openai.http.requests[0]
    assert (request.endpoint, request.model) == ("chat.completions", "gpt-4o-mini")
    assert request.json_schema is not None and request.json_schema["name"] == "Summary"
    assert request.json_schema["strict"] is True
    assert "pool hours" in request.text


async def test_responses_parse_returns_the_scripted_object(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.http.responder = lambda request: (
        Reply.structured(EXPECTED) if "pool" in request.text else None
    )
    response = await client.responses.parse(
        model="gpt-4o-mini",
        instructions="You summarise gym conversations.",
        input="The member asked about the pool.",
        text_format=Summary,
    )
    assert response.output_parsed == EXPECTED
    assert response.usage is not None and response.usage.input_tokens == 10
    request = fake_openai.http.requests[0]
    assert request.endpoint == "responses"
    assert (
        request.json_schema is not None
        and "sentiment" in request.json_schema["schema"]["properties"]
    )


async def test_a_429_then_success_through_the_sdks_own_retry(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.http.queue(Reply.rate_limited(retry_after=0.01), Reply.structured(EXPECTED))
    retrying = client.with_options(max_retries=2)
    completion = await retrying.chat.completions.parse(
        model="gpt-4o-mini", messages=MESSAGES, response_format=Summary
    )
    assert completion.choices[0].message.parsed == EXPECTED
    requests = fake_openai.http.requests
    assert [r.status for r in requests] == [429, 200]
    assert [r.retry_count for r in requests] == [0, 1]


async def test_a_500_fails_without_retries_and_succeeds_with_them(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.http.queue(Reply.server_error(), Reply.server_error(), Reply.structured(EXPECTED))
    with pytest.raises(InternalServerError) as failed:
        await client.chat.completions.parse(
            model="gpt-4o-mini", messages=MESSAGES, response_format=Summary
        )
    assert failed.value.status_code == 500
    completion = await client.with_options(max_retries=1).chat.completions.parse(
        model="gpt-4o-mini", messages=MESSAGES, response_format=Summary
    )
    assert completion.choices[0].message.parsed == EXPECTED
    assert [r.status for r in fake_openai.http.requests] == [500, 500, 200]


async def test_an_answer_slower_than_the_client_timeout(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.http.queue(Reply.structured(EXPECTED).after(30))
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        await client.with_options(timeout=0.3).chat.completions.parse(
            model="gpt-4o-mini", messages=MESSAGES, response_format=Summary
        )
    assert time.monotonic() - started < 5
    request = fake_openai.http.requests[0]
    await wait_for(lambda: request.client_disconnected, timeout=5, message="the client gave up")


async def test_a_malformed_answer_raises_the_sdks_validation_error(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.http.queue(Reply.malformed(), Reply.malformed("this is not JSON"))
    for _ in range(2):
        with pytest.raises(pydantic.ValidationError):
            await client.chat.completions.parse(
                model="gpt-4o-mini", messages=MESSAGES, response_format=Summary
            )
    assert [r.status for r in fake_openai.http.requests] == [200, 200]


async def test_refusals_and_truncated_answers(fake_openai: FakeOpenAI, client: AsyncOpenAI) -> None:
    fake_openai.http.queue(Reply.refused("I can't help with that."), Reply.truncated())
    completion = await client.chat.completions.parse(
        model="gpt-4o-mini", messages=MESSAGES, response_format=Summary
    )
    message = completion.choices[0].message
    assert (message.parsed, message.refusal) == (None, "I can't help with that.")
    with pytest.raises(LengthFinishReasonError):
        await client.chat.completions.parse(
            model="gpt-4o-mini", messages=MESSAGES, response_format=Summary
        )


async def test_quota_and_key_failures_carry_the_apis_codes() -> None:
    async with FakeOpenAI(api_key="sk-right") as fake:
        wrong = AsyncOpenAI(**fake.client_options(api_key="sk-wrong", max_retries=0))
        with pytest.raises(AuthenticationError) as denied:
            await wrong.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert denied.value.code == "invalid_api_key"
        right = AsyncOpenAI(**fake.client_options(max_retries=0))
        fake.http.queue(Reply.quota_exceeded())
        with pytest.raises(RateLimitError) as quota:
            await right.responses.create(model="gpt-4o-mini", input="hi")
        assert quota.value.code == "insufficient_quota"
        await wrong.close()
        await right.close()


def test_a_synchronous_client_against_the_fake_in_its_own_thread() -> None:
    with FakeOpenAI() as fake:
        fake.http.queue(Reply.text("Bonjour !"))
        with OpenAI(**fake.client_options(max_retries=0)) as sync_client:
            completion = sync_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert completion.choices[0].message.content == "Bonjour !"
        assert fake.http.requests[0].status == 200


def test_the_fake_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeOpenAI(host="0.0.0.0")
