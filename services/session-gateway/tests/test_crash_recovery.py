"""A gateway process killed mid-conversation: another one closes its session from the last
checkpoint, `gateway_lost`, exactly once."""

import asyncio
import json
import os
import signal
import sys
import uuid

import websockets
from gateway_world import KEY, recv, until

from jarvis_common.devrun.kafka import free_port
from jarvis_common.settings import PlatformSettings
from jarvis_common.testing.waiting import wait_for
from jarvis_common.tokens import KIOSK_AUDIENCE, TokenSigner, public_key_pem
from session_gateway.session_manager import manager_of


async def test_a_killed_gateway_loses_no_session(
    make_gateway, platform_settings: PlatformSettings
) -> None:
    survivor = await make_gateway(instance_heartbeat_s=0.2, instance_lease_s=1.0)
    kiosk_id = await survivor.kiosk(language="fr")

    port = free_port()
    env = {
        **os.environ,
        "JARVIS_DATABASE_URL": platform_settings.database_url,
        "JARVIS_KAFKA_BOOTSTRAP_SERVERS": platform_settings.kafka_bootstrap_servers,
        "JARVIS_TOKEN_PUBLIC_KEY": public_key_pem(KEY),
        "JARVIS_GATEWAY_PORT": str(port),
        "JARVIS_GATEWAY_INSTANCE_HEARTBEAT_S": "0.2",
        "JARVIS_LOG_JSON": "false",
        # so the survivor need not wait long for the dead process to leave the consumer group
        "JARVIS_CONSUMER_SESSION_TIMEOUT_MS": "2000",
    }
    env.pop("OPENAI_API_KEY", None)
    env.pop("JARVIS_GATEWAY_OPENAI_API_KEY", None)
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jarvis_common.runner",
        "session-gateway",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        token = TokenSigner(KEY).sign(str(kiosk_id), KIOSK_AUDIENCE, 300)[0]
        url = f"ws://127.0.0.1:{port}/api/v1/kiosk/ws?access_token={token}"

        async def connected() -> websockets.ClientConnection | None:
            try:
                return await websockets.connect(url)
            except OSError:
                return None

        ws = await wait_for(connected, timeout=60, message="the doomed gateway accepts kiosks")
        await recv(ws)  # welcome
        await ws.send(json.dumps({"type": "session.start"}))
        session_id = (await recv(ws))["session_id"]
        await ws.send(json.dumps({"type": "text", "text": "Quels sont vos horaires ?"}))
        await until(ws, "response.text.done")
        await wait_for(
            lambda: survivor.db.fetchval(
                "SELECT jsonb_array_length(transcript) = 2 FROM gateway.sessions WHERE id = $1",
                uuid.UUID(session_id),
            ),
            message="the conversation checkpointed",
        )
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()

    await survivor.app.start()
    try:
        await wait_for(
            lambda: survivor.events("session.closed", session_id),
            timeout=30,
            message="the survivor closed the lost session",
        )
        row = await survivor.row(session_id)
        assert (row["state"], row["end_reason"]) == ("closed", "gateway_lost")
        closed = await survivor.events("session.closed", session_id)
        assert len(closed) == 1
        data = closed[0]["data"]
        assert [t["role"] for t in data["transcript"]] == ["user", "assistant"]
        assert data["transcript"][0]["text"] == "Quels sont vos horaires ?"
        # the survivor's own sessions are not touched
        async with survivor.connect(kiosk_id) as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "session.start"}))
            own = (await recv(ws))["session_id"]
            lease_beats = await survivor.db.fetchval(
                "SELECT seen_at FROM gateway.instances WHERE instance_id = $1",
                manager_of(survivor.app).instance_id,
            )
            await wait_for(
                lambda: survivor.db.fetchval(
                    "SELECT seen_at > $2 FROM gateway.instances WHERE instance_id = $1",
                    manager_of(survivor.app).instance_id,
                    lease_beats,
                ),
                message="another sweep ran",
            )
            assert (await survivor.row(own))["state"] == "open"
    finally:
        await survivor.app.stop()
