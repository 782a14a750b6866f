"""Live sessions over the kiosk WebSocket with the offline assistant: conversation, errors,
idle timeout, maximum duration, per-gym cap, resume, kiosk gone, shutdown, exactly-once close."""

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from gateway_world import recv, start, until

from jarvis_common.testing.waiting import wait_for
from session_gateway.session_manager import manager_of


# Under the runner's WebSocket protocol the kiosk socket talks through its text channel; under
# any other ASGI server, through Starlette's WebSocket. Both must hold the same conversation.
@pytest.mark.parametrize("plain_asgi", [False, True], ids=["text-channel", "plain-asgi"])
async def test_a_conversation_is_answered_stored_and_announced(
    make_gateway, plain_asgi: bool
) -> None:
    gw = await make_gateway(plain_asgi=plain_asgi)
    kiosk_id = await gw.kiosk(language="fr")
    member = uuid.uuid4()
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws, member_id=str(member))
        row = await gw.row(session_id)
        assert (row["state"], row["member_id"], row["ended_at"]) == ("open", member, None)
        assert len(await gw.events("session.started", session_id)) == 1

        await ws.send(json.dumps({"type": "text", "text": "Quels sont vos horaires ?"}))
        got = await until(ws, "response.text.done")
        assert got[0] == {
            "type": "transcript",
            "item_id": "u1",
            "role": "user",
            "text": "Quels sont vos horaires ?",
            "seq": 2,
        }
        deltas = "".join(m["delta"] for m in got if m["type"] == "response.text.delta")
        assert deltas == got[-1]["text"] and "6h-23h" in deltas
        assert [m["seq"] for m in got] == list(range(2, 2 + len(got)))

        await ws.send(json.dumps({"type": "text", "text": "Et la météo ?"}))
        done = (await until(ws, "response.text.done"))[-1]
        assert done["text"].startswith("Je ne peux pas répondre")

        await ws.send(json.dumps({"type": "session.end"}))
        ended = await recv(ws)
        assert (ended["type"], ended["reason"]) == ("session.ended", "kiosk_ended")

        # the connection outlives the session
        await ws.send(b'{"type": "heartbeat"}')  # a binary frame is not a message
        assert (await recv(ws))["code"] == "invalid_json"
        await ws.send(json.dumps({"type": "heartbeat"}))
        assert (await recv(ws))["type"] == "heartbeat.ack"

    row = await gw.row(session_id)
    assert (row["state"], row["end_reason"]) == ("closed", "kiosk_ended")
    assert row["ended_at"] >= row["started_at"]
    closed = await gw.events("session.closed", session_id)
    assert len(closed) == 1
    data = closed[0]["data"]
    assert [(t["item_id"], t["role"]) for t in data["transcript"]] == [
        ("u1", "user"),
        ("a1", "assistant"),
        ("u2", "user"),
        ("a2", "assistant"),
    ]
    assert data["member_id"] == str(member) and Decimal(data["cost_usd"]) == 0
    assert data["usage"]["text_input"] == 0 and data["language"] == "fr"
    assert json.loads(row["transcript"]) == data["transcript"]


async def test_session_messages_out_of_place_get_errors_and_the_connection_stays(
    make_gateway,
) -> None:
    gw = await make_gateway()
    kiosk_id = await gw.kiosk()
    async with gw.connect(kiosk_id) as ws:
        await recv(ws)
        for message, code in [
            ({"type": "text", "text": "allo"}, "no_session"),
            ({"type": "session.end"}, "no_session"),
            ({"type": "ack", "seq": 1}, "no_session"),
            ({"type": "ack", "seq": -1}, "invalid_message"),
            ({"type": "text", "text": ""}, "invalid_message"),
            ({"type": "session.start", "member_id": "nope"}, "invalid_message"),
            ({"type": "session.resume", "session_id": str(uuid.uuid4())}, "unknown_session"),
        ]:
            await ws.send(json.dumps(message))
            reply = await recv(ws)
            assert (reply["type"], reply["code"]) == ("error", code), message
        await ws.send(json.dumps({"type": "session.start"}))
        session_id = (await recv(ws))["session_id"]
        await ws.send(json.dumps({"type": "session.start"}))
        reply = await recv(ws)
        assert (reply["code"], reply["session_id"]) == ("session_already_active", session_id)
        await ws.send(json.dumps({"type": "session.end"}))
        assert (await recv(ws))["reason"] == "kiosk_ended"
        await ws.send(json.dumps({"type": "session.end"}))
        assert (await recv(ws))["code"] == "no_session"
    assert len(await gw.events("session.closed", session_id)) == 1


async def test_idle_session_times_out(make_gateway) -> None:
    gw = await make_gateway()
    kiosk_id = await gw.kiosk(idle_timeout_s=1)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        ended = (await until(ws, "session.ended"))[-1]
        assert ended["reason"] == "idle_timeout"
    assert (await gw.row(session_id))["end_reason"] == "idle_timeout"
    assert len(await gw.events("session.closed", session_id)) == 1


async def test_maximum_duration_wraps_up_then_ends(make_gateway) -> None:
    gw = await make_gateway()
    kiosk_id = await gw.kiosk(language="en", max_duration_s=1, idle_timeout_s=60)
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        got = await until(ws, "session.ended")
        types = [m["type"] for m in got]
        assert types[-2:] == ["response.text.done", "session.ended"]
        assert set(types[:-2]) == {"response.text.delta"}
        assert got[-2]["text"].startswith("Our time is up") and got[-1]["reason"] == "max_duration"
    data = (await gw.events("session.closed", session_id))[0]["data"]
    assert data["end_reason"] == "max_duration"
    assert data["transcript"][-1]["text"].startswith("Our time is up")


async def test_a_gym_at_its_cap_refuses_a_new_session_clearly(make_gateway) -> None:
    gw = await make_gateway()
    gym = uuid.uuid4()
    first = await gw.kiosk(gym, max_concurrent_sessions=1)
    second = await gw.kiosk(gym, max_concurrent_sessions=1)
    other_gym = await gw.kiosk(max_concurrent_sessions=1)
    async with gw.connect(first) as a, gw.connect(second) as b, gw.connect(other_gym) as c:
        await start(a)
        await recv(b)
        await b.send(json.dumps({"type": "session.start"}))
        refused = await recv(b)
        assert (refused["code"], refused["max_concurrent_sessions"]) == ("gym_at_capacity", 1)
        assert "refused" in refused["message"]
        await start(c)  # another gym is not affected
        await a.send(json.dumps({"type": "session.end"}))
        await until(a, "session.ended")
        await b.send(json.dumps({"type": "session.start"}))
        assert (await recv(b))["type"] == "session.started"
    assert await gw.db.fetchval("SELECT count(*) FROM gateway.sessions WHERE gym_id = $1", gym) == 2


async def test_a_dropped_kiosk_resumes_with_nothing_missing_or_duplicated(make_gateway) -> None:
    gw = await make_gateway(resume_window_s=10)
    kiosk_id = await gw.kiosk()
    received: list[dict[str, Any]] = []
    async with gw.connect(kiosk_id) as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "session.start"}))
        received.append(await recv(ws))
        session_id = received[0]["session_id"]
        await ws.send(json.dumps({"type": "text", "text": "Quels sont vos prix ?"}))
        received.append(await recv(ws))  # the user transcript; the answer is lost with the drop
    manager = manager_of(gw.app)
    await wait_for(lambda: manager.live[uuid.UUID(session_id)].conn is None, message="detached")

    async with gw.connect(kiosk_id) as ws:
        await recv(ws)
        await ws.send(
            json.dumps(
                {
                    "type": "session.resume",
                    "session_id": session_id,
                    "last_seen_seq": received[-1]["seq"],
                }
            )
        )
        resumed = await recv(ws)
        assert resumed["type"] == "session.resumed" and resumed["session_id"] == session_id
        received += await until(ws, "response.text.done")
        assert resumed["last_seq"] == received[-1]["seq"]
        await ws.send(json.dumps({"type": "text", "text": "horaires ?"}))
        received += await until(ws, "response.text.done")
        await ws.send(json.dumps({"type": "session.end"}))
        received += await until(ws, "session.ended")

    assert [m["seq"] for m in received] == list(range(1, len(received) + 1))
    answer = "".join(m["delta"] for m in received if m.get("item_id") == "a1" and "delta" in m)
    assert "29,90 €" in answer
    data = (await gw.events("session.closed", session_id))[0]["data"]
    assert [t["item_id"] for t in data["transcript"]] == ["u1", "a1", "u2", "a2"]
    assert data["end_reason"] == "kiosk_ended"


async def test_messages_the_kiosk_acknowledged_are_not_replayed(make_gateway) -> None:
    gw = await make_gateway(resume_window_s=10)
    kiosk_id = await gw.kiosk()
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        await ws.send(json.dumps({"type": "text", "text": "Quels sont vos prix ?"}))
        received = await until(ws, "response.text.done")
        last = received[-1]["seq"]
        await ws.send(json.dumps({"type": "ack", "seq": last + 1}))  # not sent yet
        reply = await recv(ws)
        assert (reply["type"], reply["code"]) == ("error", "invalid_ack")
        await ws.send(json.dumps({"type": "ack", "seq": last - 1}))
        await ws.send(json.dumps({"type": "text", "text": "horaires ?"}))
        after_ack = await until(ws, "response.text.done")
        assert "error" not in {m["type"] for m in after_ack}  # an ack is not answered
    manager = manager_of(gw.app)
    await wait_for(lambda: manager.live[uuid.UUID(session_id)].conn is None, message="detached")

    async with gw.connect(kiosk_id) as ws:
        await recv(ws)
        # a kiosk asking for more than it acknowledged gets only what is still held, and
        # `first_seq` says where that starts
        resume = {"type": "session.resume", "session_id": session_id, "last_seen_seq": 0}
        await ws.send(json.dumps(resume))
        resumed = await recv(ws)
        assert resumed["first_seq"] == last and resumed["last_seq"] == after_ack[-1]["seq"]
        replayed = [await recv(ws) for _ in range(resumed["last_seq"] - last + 1)]
        assert [m["seq"] for m in replayed] == list(range(last, resumed["last_seq"] + 1))
        assert replayed == [received[-1], *after_ack]
        await ws.send(json.dumps({"type": "session.end"}))
        await until(ws, "session.ended")


async def test_a_kiosk_that_does_not_come_back_ends_the_session_kiosk_gone(make_gateway) -> None:
    gw = await make_gateway(resume_window_s=0.3)
    kiosk_id = await gw.kiosk()
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
    await wait_for(
        lambda: gw.db.fetchval(
            "SELECT end_reason FROM gateway.sessions WHERE id = $1 AND state = 'closed'",
            uuid.UUID(session_id),
        ),
        message="session closed",
    )
    assert (await gw.row(session_id))["end_reason"] == "kiosk_gone"
    assert len(await gw.events("session.closed", session_id)) == 1
    async with gw.connect(kiosk_id) as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "session.resume", "session_id": session_id}))
        assert (await recv(ws))["code"] == "unknown_session"


async def test_another_kiosk_cannot_resume_a_session(make_gateway) -> None:
    gw = await make_gateway()
    kiosk_id, intruder = await gw.kiosk(), await gw.kiosk()
    async with gw.connect(kiosk_id) as ws, gw.connect(intruder) as other:
        session_id = await start(ws)
        await recv(other)
        await other.send(json.dumps({"type": "session.resume", "session_id": session_id}))
        assert (await recv(other))["code"] == "unknown_session"


async def test_gateway_shutdown_ends_open_sessions(make_gateway) -> None:
    gw = await make_gateway()
    kiosk_id = await gw.kiosk()
    await gw.app.start()
    stopped = False
    try:
        async with gw.connect(kiosk_id) as ws:
            session_id = await start(ws)
            await gw.app.stop()
            stopped = True
            ended = (await until(ws, "session.ended"))[-1]
            assert ended["reason"] == "gateway_shutdown"
    finally:
        if not stopped:
            await gw.app.stop()
    assert (await gw.row(session_id))["end_reason"] == "gateway_shutdown"
    assert len(await gw.events("session.closed", session_id)) == 1
    # Published before the gateway let go of the broker, not left for its next start.
    published = await gw.db.fetchval(
        "SELECT published_at FROM gateway.outbox WHERE topic = 'session.closed' AND key = $1",
        session_id,
    )
    assert published is not None


async def test_end_paths_racing_publish_session_closed_once(make_gateway) -> None:
    gw = await make_gateway()
    kiosk_id = await gw.kiosk()
    async with gw.connect(kiosk_id) as ws:
        session_id = await start(ws)
        session = manager_of(gw.app).live[uuid.UUID(session_id)]
        await asyncio.gather(
            session.end("kiosk_ended"), session.end("idle_timeout"), session.end("kiosk_gone")
        )
        ended = (await until(ws, "session.ended"))[-1]
    closed = await gw.events("session.closed", session_id)
    assert len(closed) == 1 and closed[0]["data"]["end_reason"] == ended["reason"]
    assert (await gw.row(session_id))["end_reason"] == ended["reason"]
