"""Sessions relayed to OpenAI Realtime: the real `openai` SDK in the gateway, talking to the fake
Realtime server over loopback. One test per lifecycle rule of the relay."""

import asyncio
import base64
import json
import uuid
from decimal import Decimal
from typing import Any

from gateway_world import Gateway, recv, start, until

from jarvis_common.events import new_event
from jarvis_common.events.catalogue import MemberUpserted
from jarvis_common.testing.fake_openai import (
    Answer,
    ErrorSpec,
    FakeOpenAI,
    RealtimeUsage,
    Transcript,
    silence_pcm,
    speech_pcm,
)
from jarvis_common.testing.waiting import wait_for
from session_gateway import member_directory

MODEL = "gpt-realtime-2025-08-28"


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


def speech(ms: int = 100) -> str:
    return json.dumps({"type": "audio.append", "audio": b64(speech_pcm(ms))})


def noise(ms: int = 100) -> str:
    return json.dumps({"type": "audio.append", "audio": b64(speech_pcm(ms, amplitude=300))})


def text(words: str) -> str:
    return json.dumps({"type": "text", "text": words})


async def realtime_gateway(make_gateway: Any, fake: FakeOpenAI, **settings: Any) -> Gateway:
    return await make_gateway(
        openai_api_key=fake.api_key or "sk-fake-test-key",
        openai_base_url=fake.http_url,
        openai_ws_base_url=fake.ws_url,
        **settings,
    )


async def closed_event(gw: Gateway, session_id: str) -> dict[str, Any]:
    await wait_for(
        lambda: gw.events("session.closed", session_id), message="session.closed published"
    )
    events = await gw.events("session.closed", session_id)
    assert len(events) == 1
    return events[0]["data"]


async def test_a_text_turn_is_configured_from_the_kiosk_answered_and_costed(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(language="fr", openai_model=MODEL, voice_model="marin")
    kiosk = await gw.known_kiosk(kiosk_id)
    member = uuid.uuid4()
    async with gw.app.db.unit_of_work() as uow:
        await member_directory.learn_member(
            new_event(
                MemberUpserted(
                    member_id=member,
                    gym_id=kiosk.gym_id,
                    first_name="Camille",
                    updated_at="2026-11-01T00:00:00Z",
                ),
                source="kiosk-registry",
                gym_id=kiosk.gym_id,
            ),
            uow,
        )
    usage = RealtimeUsage(input_text=1000, cached_text=400, output_text=50, output_audio=2000)
    fake_openai.realtime.answer_when("horaires", Answer("De 6h à 23h.", usage=usage))
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws, member_id=str(member))
        server = await fake_openai.realtime.wait_for_connection()
        assert server.model == MODEL
        await ws.send(text("Quels sont vos horaires ?"))
        got = await until(ws, "response.text.done")
        types = {m["type"] for m in got}
        assert {"transcript", "response.audio.delta", "response.text.delta"} <= types
        assert got[-1]["text"] == "De 6h à 23h."
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")

    session = server.session
    assert "Fit Lyon" in session["instructions"] and "6h-23h" in session["instructions"]
    assert "Camille" in session["instructions"]
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["audio"]["input"]["transcription"]["model"] == "gpt-4o-mini-transcribe"
    data = await closed_event(gw, session_id)
    assert [(t["role"], t["text"]) for t in data["transcript"]] == [
        ("user", "Quels sont vos horaires ?"),
        ("assistant", "De 6h à 23h."),
    ]
    assert data["usage"] == {
        "text_input": 600,
        "text_output": 50,
        "audio_input": 0,
        "audio_output": 2000,
        "cached_input": 400,
        "transcription_input": 0,
        "transcription_output": 0,
    }
    # gpt-realtime, per million tokens: 600 at $4, 400 at $0.40, 50 at $16, 2000 at $64
    assert Decimal(data["cost_usd"]) == Decimal("0.131360")
    assert data["price_table_version"] == "2025-09-01" and data["model"] == MODEL


async def test_a_spoken_turn_with_a_late_transcript_is_stored_in_conversation_order(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    fake_openai.realtime.vad_speech_chunks = 2
    fake_openai.realtime.queue_transcripts(
        Transcript("What are your opening hours?", after_response=True)
    )
    fake_openai.realtime.answer_when("opening hours", Answer("From six to eleven."))
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(language="en", openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(speech())
        assert (await recv(ws))["type"] == "speech.started"
        await ws.send(speech())
        got = await until(ws, "transcript")
        audio = b"".join(
            base64.b64decode(m["audio"]) for m in got if m["type"] == "response.audio.delta"
        )
        assert len(audio) == 4 * 100 * 48  # four words, 100 ms of PCM16 24 kHz each
        types = [m["type"] for m in got]
        assert types.index("response.text.done") < types.index("transcript")  # it came late
        assert got[-1]["text"] == "What are your opening hours?"
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")
    data = await closed_event(gw, session_id)
    assert [(t["role"], t["text"]) for t in data["transcript"]] == [
        ("user", "What are your opening hours?"),
        ("assistant", "From six to eleven."),
    ]
    assert data["usage"]["transcription_input"] > 0 and data["usage"]["audio_input"] > 0


async def test_assistant_audio_arriving_while_the_relay_idles_reaches_the_kiosk_whole_in_order(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    """Spaced audio deltas that come before their transcript deltas: each reaches the gateway
    while its reader waits, so it goes to the kiosk from the upstream socket's read callback,
    and the transcript delta after it through the reader. Order, seq and the stored transcript
    must be the same as on the reader's path."""
    words = "Nous ouvrons de six heures à vingt-trois heures"
    fake_openai.realtime.answer_when(
        "horaires", Answer(words, modality="audio", delta_delay=0.02, audio_first=True)
    )
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(language="fr", openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(json.dumps({"type": "text", "text": "Vos horaires ?"}))
        got = await until(ws, "response.text.done")
        assert [m["seq"] for m in got] == list(range(got[0]["seq"], got[0]["seq"] + len(got)))
        deltas = [m for m in got if m["type"] == "response.audio.delta"]
        assert len(deltas) == len(words.split())
        assert all(len(base64.b64decode(m["audio"])) == 100 * 48 for m in deltas)
        assert got[-1]["text"] == words
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")
    data = await closed_event(gw, session_id)
    assert [(t["role"], t["text"]) for t in data["transcript"]] == [
        ("user", "Vos horaires ?"),
        ("assistant", words),
    ]
    assert data["usage"]["audio_output"] > 0


async def test_a_failed_transcription_is_marked_and_a_transcript_just_after_the_end_is_kept(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    fake_openai.realtime.vad_speech_chunks = 1
    fake_openai.realtime.queue_transcripts(
        Transcript(fail=ErrorSpec("Audio unintelligible", "audio_unintelligible", "x")),
        Transcript("Merci, au revoir", delay=0.5),
    )
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(speech())
        failed = (await until(ws, "transcript"))[-1]
        assert failed["transcription_failed"] is True and failed["text"] == ""
        await until(ws, "response.text.done")
        await ws.send(speech())
        await until(ws, "response.text.done")
        # the member leaves before the second transcript arrives (0.5 s after the turn)
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")
    data = await closed_event(gw, session_id)
    users = [
        (t["text"], t["transcription_failed"]) for t in data["transcript"] if t["role"] == "user"
    ]
    assert users == [("", True), ("Merci, au revoir", False)]


async def test_barge_in_truncates_the_answer_to_what_the_kiosk_played(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    fake_openai.realtime.vad_speech_chunks = 1
    release = asyncio.Event()
    fake_openai.realtime.queue_transcripts("Tell me about classes", "Stop")
    fake_openai.realtime.queue_answers(
        Answer("We have yoga spinning boxing and pilates", hold_until=release), "Sure."
    )
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(speech())
        first_audio = next(
            m
            for m in await until(ws, "response.audio.delta")
            if m["type"] == "response.audio.delta"
        )
        # the member talks over the answer: the kiosk is told to stop, and says what it played
        await ws.send(speech())
        stop = await until(ws, "speech.started")
        assert stop[-1]["item_id"] == first_audio["item_id"]
        await ws.send(
            json.dumps(
                {"type": "playback.stopped", "item_id": first_audio["item_id"], "played_ms": 60}
            )
        )
        server = fake_openai.realtime.last
        await wait_for(lambda: server.truncations, message="truncate sent upstream")
        assert server.truncations == {first_audio["item_id"]: 60}
        await until(ws, "response.text.done")  # "Sure."
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")
    data = await closed_event(gw, session_id)
    said = [(t["role"], t["text"]) for t in data["transcript"]]
    # only the first word had started playing when the member spoke
    assert said == [
        ("user", "Tell me about classes"),
        ("assistant", "We"),
        ("user", "Stop"),
        ("assistant", "Sure."),
    ]


async def test_a_dropped_upstream_is_reopened_and_the_conversation_replayed(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    fake_openai.realtime.queue_answers(Answer("We open at six.", modality="text"))
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(text("When do you open?"))
        await until(ws, "response.text.done")
        for n, cut in enumerate(("drop", 1011, 1001), start=2):
            first = fake_openai.realtime.last
            await (first.drop() if cut == "drop" else first.close(cut))
            second = await fake_openai.realtime.wait_for_connection(n, timeout=5)
            await second.wait_received("conversation.item.create", count=2 * (n - 1))
            # the new upstream session knows everything said so far, with the same item ids
            assert [role for role, _ in second.conversation()] == ["user", "assistant"] * (n - 1)
            await ws.send(text(f"Question {n}"))
            got = await until(ws, "response.text.done")
            assert got[-1]["text"] == f"You said: Question {n}"
            assert "error" not in {m["type"] for m in got}
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")
    data = await closed_event(gw, session_id)
    texts = [t["text"] for t in data["transcript"]]
    assert texts == [
        "When do you open?",
        "We open at six.",
        *[x for n in (2, 3, 4) for x in (f"Question {n}", f"You said: Question {n}")],
    ]
    assert len({t["item_id"] for t in data["transcript"]}) == len(texts)


async def test_after_a_drop_the_members_turn_is_replayed_whole_and_the_quiet_before_it_briefly(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    quiet, talk = b64(silence_pcm(100)), b64(speech_pcm(100))
    async with gw.connect(kiosk_id) as ws:
        await start(ws)
        for _ in range(60):  # a quiet room for 6 s
            await ws.send(json.dumps({"type": "audio.append", "audio": quiet}))
        await ws.send(json.dumps({"type": "audio.append", "audio": talk}))
        await until(ws, "speech.started")
        for _ in range(59):  # the member talks for 6 s: longer than the quiet window
            await ws.send(json.dumps({"type": "audio.append", "audio": talk}))
        first = fake_openai.realtime.last
        await first.wait_received("input_audio_buffer.append", count=120)
        await first.drop()
        second = await fake_openai.realtime.wait_for_connection(2, timeout=5)
        # live audio follows the replay: once this arrives, the replay is whole
        marker = b64(speech_pcm(100, amplitude=9000))
        await ws.send(json.dumps({"type": "audio.append", "audio": marker}))
        await wait_for(
            lambda: marker in [e["audio"] for e in second.received_of("input_audio_buffer.append")],
            message="live audio after the replay",
        )
        sent = [e["audio"] for e in second.received_of("input_audio_buffer.append")]
        replay = sent[: sent.index(marker)]
        assert replay[-60:] == [talk] * 60  # the turn, whole
        # before it, at most the last 4 s of the quiet room (of 6), which the VAD drops anyway
        assert set(replay[:-60]) == {quiet} and 0 < len(replay) - 60 <= 40
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")


async def test_an_answer_cut_by_a_drop_is_continued_on_the_new_connection(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    fake_openai.realtime.queue_answers(
        Answer("one two three four five six", modality="text", drop_after=2, drop_code=1006),
        Answer("four five six", modality="text"),
    )
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(text("Count to six"))
        got = await until(ws, "response.text.done")
        second = fake_openai.realtime.connections[1]
        create = second.received_of("response.create")[-1]
        assert "cut off" in create["response"]["instructions"]
        assert got[-1]["text"] == "four five six"
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")
    replayed = second.conversation()
    assert replayed[0] == ("user", "Count to six") and replayed[1] == ("assistant", "one two")
    data = await closed_event(gw, session_id)
    assert [t["text"] for t in data["transcript"]] == ["Count to six", "one two", "four five six"]


async def test_the_providers_session_cap_is_handled_like_a_drop(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    fake_openai.realtime.max_session_seconds = 1.0  # the 60-minute cap, scaled
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL, idle_timeout_s=30)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(text("Hello"))
        await until(ws, "response.text.done")
        second = await fake_openai.realtime.wait_for_connection(2, timeout=5)
        assert fake_openai.realtime.connections[0].close_code == 1001
        await second.wait_received("conversation.item.create", count=2)
        await ws.send(text("Still there?"))
        assert (await until(ws, "response.text.done"))[-1]["text"] == "You said: Still there?"
        await ws.send(json.dumps({"type": "session.end"}))
        assert (await until(ws, "session.ended"))[-1]["reason"] == "kiosk_ended"
    assert len((await closed_event(gw, session_id))["transcript"]) == 4


async def test_the_gateway_moves_to_a_fresh_upstream_session_before_the_cap_when_idle(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    release = asyncio.Event()
    fake_openai.realtime.queue_answers(Answer("a long answer", modality="text", hold_until=release))
    gw = await realtime_gateway(make_gateway, fake_openai, upstream_rotate_after_s=0.3)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        await start(ws)
        await ws.send(text("Tell me everything"))
        await until(ws, "response.text.delta")
        first = fake_openai.realtime.last
        await wait_for(lambda: len(first.received_of("response.create")) == 1, message="asked")
        assert len(fake_openai.realtime.connections) == 1  # never while a response is in flight
        release.set()
        await until(ws, "response.text.done")
        second = await fake_openai.realtime.wait_for_connection(2, timeout=5)
        await first.wait_closed()
        assert first.closed_by == "client" and first.close_code == 1000
        await second.wait_received("conversation.item.create", count=2)
        assert [r for r, _ in second.conversation()] == ["user", "assistant"]


async def test_an_invalid_key_ends_the_session_at_once(make_gateway) -> None:
    async with FakeOpenAI(api_key="sk-the-right-key") as fake:
        gw = await make_gateway(
            openai_api_key="sk-a-wrong-key",
            openai_base_url=fake.http_url,
            openai_ws_base_url=fake.ws_url,
        )
        kiosk_id = await gw.kiosk(openai_model=MODEL)
        async with gw.connect(kiosk_id) as ws:
            session_id = await start(ws)
            ended = (await until(ws, "session.ended"))[-1]
        assert (ended["reason"], ended["detail"]) == ("upstream_fatal", "invalid_api_key")
        assert (await closed_event(gw, session_id))["end_reason"] == "upstream_fatal"
        assert len(fake.realtime.connections) == 1  # not retried


async def test_no_quota_is_fatal_but_benign_errors_are_not(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        server = await fake_openai.realtime.wait_for_connection()
        await server.send_error(ErrorSpec.no_active_response())
        await server.send_error(ErrorSpec.response_already_active())
        await ws.send(text("Still fine?"))
        assert (await until(ws, "response.text.done"))[-1]["text"] == "You said: Still fine?"
        fake_openai.realtime.queue_answers(Answer("Sorry", fail=ErrorSpec.insufficient_quota()))
        await ws.send(text("And now?"))
        ended = (await until(ws, "session.ended"))[-1]
    assert (ended["reason"], ended["detail"]) == ("upstream_fatal", "insufficient_quota")
    assert (await closed_event(gw, session_id))["end_reason"] == "upstream_fatal"


async def test_an_upstream_that_stays_away_ends_the_session_but_a_short_outage_does_not(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai, upstream_reconnect_deadline_s=2)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    fake_openai.realtime.refuse_connections(count=2, status=503)
    async with gw.connect(kiosk_id) as ws:
        await start(ws)
        await ws.send(text("Hi"))
        assert (await until(ws, "response.text.done"))[-1]["text"] == "You said: Hi"
        assert fake_openai.realtime.refused == 2
        fake_openai.realtime.refuse_connections(status=503)  # until accept_connections()
        await fake_openai.realtime.last.drop()
        ended = (await until(ws, "session.ended"))[-1]
    assert (ended["reason"], ended["detail"]) == ("upstream_fatal", "upstream_unreachable")


async def test_a_session_over_its_budget_ends(make_gateway, fake_openai: FakeOpenAI) -> None:
    usage = RealtimeUsage(output_audio=20_000)  # $1.28 with gpt-realtime
    fake_openai.realtime.queue_answers(Answer("A very expensive answer", usage=usage))
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL, session_budget_usd="0.50")
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(text("Talk"))
        ended = (await until(ws, "session.ended"))[-1]
    assert ended["reason"] == "budget_exceeded"
    data = await closed_event(gw, session_id)
    assert Decimal(data["cost_usd"]) >= Decimal("0.50")


async def test_microphone_noise_does_not_keep_a_session_alive(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL, idle_timeout_s=1)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)

        async def hum() -> None:
            while True:
                await ws.send(noise())
                await asyncio.sleep(0.1)  # the kiosk's microphone pace, not a wait

        humming = asyncio.create_task(hum())
        try:
            ended = (await until(ws, "session.ended"))[-1]
        finally:
            humming.cancel()
    assert ended["reason"] == "idle_timeout"
    assert fake_openai.realtime.last.received_of("input_audio_buffer.append")
    assert (await closed_event(gw, session_id))["end_reason"] == "idle_timeout"


async def test_the_maximum_duration_ends_with_a_spoken_goodbye(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    fake_openai.realtime.answer_when(
        lambda ctx: "time limit" in (ctx.response_instructions or ""), "Time is up, goodbye!"
    )
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL, max_duration_s=1, idle_timeout_s=60)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        got = await until(ws, "session.ended")
    types = [m["type"] for m in got]
    assert "response.audio.delta" in types
    done = next(m for m in got if m["type"] == "response.text.done")
    assert done["text"] == "Time is up, goodbye!" and got[-1]["reason"] == "max_duration"
    data = await closed_event(gw, session_id)
    assert data["transcript"][-1]["text"] == "Time is up, goodbye!"


async def test_a_member_of_another_gym_is_refused(make_gateway, fake_openai: FakeOpenAI) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    member, other_gym = uuid.uuid4(), uuid.uuid4()
    async with gw.app.db.unit_of_work() as uow:
        await member_directory.learn_member(
            new_event(
                MemberUpserted(member_id=member, gym_id=other_gym, updated_at="2026-11-01T00:00Z"),
                source="kiosk-registry",
                gym_id=other_gym,
            ),
            uow,
        )
    async with gw.connect(kiosk_id) as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "session.start", "member_id": str(member)}))
        refused = await recv(ws)
    assert refused["code"] == "unknown_member"
    assert not fake_openai.realtime.connections


async def test_audio_that_is_not_base64_gets_an_error_and_the_session_goes_on(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        await start(ws)
        await ws.send(json.dumps({"type": "audio.append", "audio": "not base64!"}))
        assert (await recv(ws))["code"] == "invalid_audio"
        await ws.send(json.dumps({"type": "playback.stopped", "item_id": "nope", "played_ms": 5}))
        assert (await recv(ws))["code"] == "unknown_item"
        await ws.send(json.dumps({"type": "audio.append", "audio": b64(silence_pcm(100))}))
        await ws.send(text("ok?"))
        assert (await until(ws, "response.text.done"))[-1]["text"] == "You said: ok?"
    appended = fake_openai.realtime.last.received_of("input_audio_buffer.append")
    assert [a["audio"] for a in appended] == [b64(silence_pcm(100))]


async def test_a_normal_close_by_the_provider_ends_the_session(
    make_gateway, fake_openai: FakeOpenAI
) -> None:
    gw = await realtime_gateway(make_gateway, fake_openai)
    kiosk_id = await gw.kiosk(openai_model=MODEL)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await (await fake_openai.realtime.wait_for_connection()).close(1000)
        ended = (await until(ws, "session.ended"))[-1]
    assert (ended["reason"], ended["detail"]) == ("upstream_fatal", "upstream_closed")
    assert len(fake_openai.realtime.connections) == 1  # 1000 is an end, not a drop
    assert (await closed_event(gw, session_id))["end_reason"] == "upstream_fatal"
