"""What operators rely on: readiness that tells the truth, metrics, JSON logs, strict settings."""

import json
import logging

import httpx
import pytest
from pydantic import ValidationError

from jarvis_common.devrun.kafka import EmbeddedKafka
from jarvis_common.logs import configure_logging, log_context
from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from jarvis_common.testing.waiting import wait_for
from probe import checked_in, publish


def client(app: ServiceApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app.http), base_url="http://probe")


async def test_readyz_reports_a_broker_outage_and_recovers(
    probe: ServiceApp, kafka: EmbeddedKafka
) -> None:
    async with client(probe) as http:
        assert (await http.get("/readyz")).status_code == 200
        kafka.pause()
        try:
            down = await http.get("/readyz")
        finally:
            kafka.resume()
        assert down.status_code == 503
        assert down.json()["checks"]["broker"].startswith("error")
        assert down.json()["checks"]["database"] == "ok"
        assert (await http.get("/healthz")).status_code == 200

        async def ready_again() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await wait_for(ready_again, message="ready again")


async def test_metrics_count_consumed_events_and_requests_by_route(probe: ServiceApp) -> None:
    await publish(probe, checked_in(), checked_in())
    async with client(probe) as http:

        async def counted() -> str | None:
            text = (await http.get("/metrics")).text
            processed = (
                "jarvis_probe_events_consumed_total"
                '{outcome="processed",topic="member.checked_in"} 2.0'
            )
            return text if processed in text else None

        text = await wait_for(counted, message="consumed events counted")
        await http.get("/healthz")
        text = (await http.get("/metrics")).text
    assert 'jarvis_probe_outbox_published_total{topic="member.checked_in"} 2.0' in text
    assert 'jarvis_probe_http_requests_total{method="GET",route="/healthz",status="200"}' in text


def test_logs_are_json_and_carry_the_event_and_trace(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("probe", "INFO", json=True)
    try:
        with log_context(event_id="e-1", trace_id="t-1", session_id="s-1"):
            logging.getLogger("probe.test").info("applied")
        logging.getLogger("probe.test").info("outside")
    finally:
        logging.getLogger().handlers.clear()
    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines()[-2:])
    assert inside["message"] == "applied"
    assert (inside["event_id"], inside["trace_id"], inside["session_id"]) == ("e-1", "t-1", "s-1")
    assert inside["service"] == "probe" and inside["level"] == "INFO"
    assert "event_id" not in outside


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JARVIS_DATABASE_URL", "mysql://nope"),
        ("JARVIS_RETRY_MAX_ATTEMPTS", "0"),
        ("JARVIS_OUTBOX_BATCH_SIZE", "lots"),
    ],
)
def test_invalid_settings_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        PlatformSettings()


def test_plain_postgres_urls_get_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JARVIS_DATABASE_URL", "postgresql://u:p@db:5432/jarvis")
    assert PlatformSettings().database_url == "postgresql+asyncpg://u:p@db:5432/jarvis"
