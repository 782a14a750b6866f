"""The weekly run end to end on the real broker and a real SMTP server: the tick schedules jobs,
the worker generates, renders and sends; a redelivered tick sends nothing twice; a crash or an
SMTP outage resumes without duplicates; without SMTP, deliveries are recorded as skipped."""

from __future__ import annotations

import re
import uuid
import zlib
from datetime import timedelta

import httpx
from reporter_world import (
    ADMIN,
    WEEK_START,
    GymWeek,
    Smtp,
    apply,
    fetch,
    local,
    weekly_tick,
    worker_of,
)

from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from jarvis_common.testing.topics import read_events
from jarvis_common.testing.waiting import wait_for
from reporter.bootstrap import bootstrap
from reporter.reports import report_id
from reporter.runs import schedule_run
from reporter.settings import Settings

D = WEEK_START


def franchise_of_two() -> tuple[GymWeek, GymWeek]:
    franchise = uuid.uuid4()
    owners = ("owner@franchise.test",)
    a = GymWeek(
        franchise_id=franchise, name="Salle Étoile", managers=("a@gym.test",), owners=owners
    )
    b = GymWeek(
        franchise_id=franchise,
        name="Club Bastille",
        managers=("b1@gym.test", "b2@gym.test"),
        owners=owners,
    )
    for gym, sessions in ((a, 3), (b, 5)):
        member = gym.member(D - timedelta(days=30))
        for i in range(sessions):
            gym.session(
                local(D + timedelta(days=i), 18),
                90,
                member,
                topics=("horaires", "café"),
                sentiment=("positive", 0.5),
                follow_ups=("Rappeler pour l\u2019offre à 29 €",),
            )
        gym.check_in(member, local(D + timedelta(days=2), 9))
        gym.alert(member, local(D + timedelta(days=1), 3))
    return a, b


async def test_the_weekly_tick_reports_every_gym_and_the_franchise_once(
    platform_settings: PlatformSettings, reporter_settings: Settings, smtp: Smtp
) -> None:
    a, b = franchise_of_two()
    # Rendering in a worker process, as in production.
    settings = reporter_settings.model_copy(update={"render_processes": 1})
    app = bootstrap(platform_settings, settings)
    async with app.running():
        # Published through the service's own outbox, so they travel relay -> broker -> inbox.
        async with app.db.unit_of_work() as uow:
            for gym in (a, b):
                uow.publish(gym.gym(), gym_id=gym.gym_id)
                for event in gym.events:
                    uow.publish(event, gym_id=gym.gym_id)
        await wait_for(
            lambda: _count(app, "SELECT count(*) AS n FROM sessions", 8),
            message="projections",
            timeout=60,
        )
        await wait_for(lambda: _count(app, "SELECT count(*) AS n FROM alerts", 2), timeout=60)
        async with app.db.unit_of_work() as uow:
            tick = uow.publish(weekly_tick())
        expected = {"a@gym.test", "b1@gym.test", "b2@gym.test", "owner@franchise.test"}
        await wait_for(
            lambda: {r for rcpts, _ in smtp.inbox.messages for r in rcpts} >= expected,
            message="every recipient's report",
            timeout=60,
        )

        # The same tick again (redelivery under a new event id): nothing more is sent.
        async with app.db.unit_of_work() as uow:
            uow.publish(tick.data)
        await wait_for(
            lambda: _count(
                app,
                "SELECT count(*) AS n FROM processed_events WHERE topic = 'schedule.tick'",
                2,
            ),
            timeout=60,
        )
        await worker_of(app).drain()
        assert sorted(r for rcpts, _ in smtp.inbox.messages for r in rcpts) == sorted(expected)

        generated = await read_events(platform_settings, "report.generated", at_least=3, timeout=60)
    scopes = sorted((e.data.scope, e.data.iso_week) for e in generated)
    assert scopes == [("franchise", "2026-W47"), ("gym", "2026-W47"), ("gym", "2026-W47")]
    franchise_event = next(e for e in generated if e.data.scope == "franchise")
    assert franchise_event.data.headline["sessions"] == 8

    [roll_up] = smtp.inbox.to("owner@franchise.test")
    assert "franchise" in roll_up["Subject"].lower()
    html = roll_up.get_body(("html",)).get_content()
    assert "Salle Étoile" in html and "Club Bastille" in html
    [gym_b] = smtp.inbox.to("b1@gym.test")
    assert gym_b["Subject"] == "Rapport hebdomadaire - Club Bastille - 2026-W47"


async def test_the_email_renders_without_javascript_under_100_kb_with_pdf_and_csv(
    reporter: ServiceApp, smtp: Smtp
) -> None:
    a, _ = franchise_of_two()
    await apply(reporter, [a.gym(), *a.events])
    async with reporter.db.unit_of_work() as uow:
        await schedule_run(uow, weekly_tick())
    await worker_of(reporter).drain()
    [message] = smtp.inbox.to("a@gym.test")
    raw = message.as_bytes()
    assert len(raw) < 100_000, len(raw)
    assert message["Message-ID"].strip().startswith(f"<{report_id('gym', a.gym_id, D)}.")

    html_part = message.get_body(("html",))
    html = html_part.get_content()
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    # Charts are inline parts referenced by cid, each with a text alternative.
    cids = re.findall(r'src="cid:([^"]+)"', html)
    assert len(cids) == 2
    related = {p["Content-ID"].strip("<>"): p for p in message.walk() if p["Content-ID"]}
    for cid in cids:
        assert related[cid].get_content_type() == "image/png"
        assert related[cid].get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r'alt="Sessions au kiosque par jour: lun\. 1, mar\. 1, mer\. 1', html)
    assert "Sessions au kiosque" in html and "Rappeler pour l\u2019offre à 29 €" in html
    assert message.get_body(("plain",)).get_content().startswith("Rapport hebdomadaire")

    attachments = {p.get_filename(): p for p in message.iter_attachments()}
    pdf = attachments["jarvis-report-gym-2026-W47.pdf"].get_content()
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    # French in Latin-1 with fpdf2's core font: accents kept, the euro sign spelled out.
    assert "Salle Étoile".encode("latin-1") in text
    assert "Rappeler pour l'offre à 29 EUR".encode("latin-1") in text
    csv_part = attachments["jarvis-report-gym-2026-W47.csv"]
    assert csv_part.get_content_type() == "text/csv"


async def test_an_smtp_outage_resumes_and_never_sends_twice(
    platform_settings: PlatformSettings, reporter_settings: Settings, smtp: Smtp
) -> None:
    g = GymWeek(managers=("one@gym.test", "two@gym.test"))
    app = bootstrap(platform_settings, reporter_settings, start_worker=False)
    try:
        await apply(app, [g.gym()])
        async with app.db.unit_of_work() as uow:
            await schedule_run(uow, weekly_tick())
        rid = report_id("gym", g.gym_id, D)
        # "one" was sent before a crash; "two" was not: only "two" may go out on resume.
        smtp.stop()
        await worker_of(app).run_once()
        jobs = await fetch(app, "SELECT status, attempts, last_error FROM report_jobs")
        assert jobs[0]["status"] == "generated" and jobs[0]["attempts"] == 1
        assert "2 of 2 deliveries failed" in jobs[0]["last_error"]
        async with app.db.unit_of_work() as uow:
            from sqlalchemy import text

            await uow.session.execute(
                text("UPDATE deliveries SET status = 'sent' WHERE recipient = 'one@gym.test'")
            )
        smtp.start()
        await worker_of(app).drain()
        assert [rcpts for rcpts, _ in smtp.inbox.messages] == [["two@gym.test"]]
        rows = await fetch(
            app, "SELECT recipient, status FROM deliveries WHERE report_id = :r", r=rid
        )
        assert sorted((r["recipient"], r["status"]) for r in rows) == [
            ("one@gym.test", "sent"),
            ("two@gym.test", "sent"),
        ]
        assert (await fetch(app, "SELECT status FROM report_jobs"))[0]["status"] == "done"
    finally:
        await app.db.dispose()


async def test_without_an_smtp_host_reports_are_stored_and_deliveries_skipped(
    platform_settings: PlatformSettings, smtp: Smtp
) -> None:
    settings = Settings(_env_file=None, smtp_host=None)
    app = bootstrap(platform_settings, settings, start_worker=False)
    try:
        g = GymWeek()
        await apply(app, [g.gym()])
        async with app.db.unit_of_work() as uow:
            await schedule_run(uow, weekly_tick())
        await worker_of(app).drain()
        rows = await fetch(app, "SELECT status, last_error FROM deliveries")
        assert rows == [{"status": "skipped", "last_error": "no SMTP host configured"}]
        assert len(await fetch(app, "SELECT 1 FROM reports")) == 1
        assert smtp.inbox.messages == []
    finally:
        await app.db.dispose()


async def test_the_operator_api_refuses_bad_requests_with_a_message(
    reporter: ServiceApp, api: httpx.AsyncClient
) -> None:
    unknown = uuid.uuid4()
    assert (await api.get(f"/api/v1/reports/{unknown}")).status_code == 401
    missing = await api.get(f"/api/v1/reports/{unknown}", headers=ADMIN)
    assert missing.status_code == 404 and str(unknown) in missing.text
    bad_week = await api.get(f"/api/v1/gyms/{unknown}/reports/2026-47", headers=ADMIN)
    assert bad_week.status_code == 422
    no_week = await api.post(f"/api/v1/gyms/{unknown}/reports/2026-W60/regenerate", headers=ADMIN)
    assert no_week.status_code in (400, 404), no_week.text
    g = GymWeek()
    await apply(reporter, [g.gym()])
    impossible = await api.post(
        f"/api/v1/gyms/{g.gym_id}/reports/2026-W60/regenerate", headers=ADMIN
    )
    assert impossible.status_code == 400 and "ISO week" in impossible.text
    metrics = await api.get("/metrics")
    assert "jarvis_reporter_deliveries_total" in metrics.text


async def _count(app: ServiceApp, sql: str, n: int) -> bool:
    return (await fetch(app, sql))[0]["n"] >= n


def _pdf_text(pdf: bytes) -> bytes:
    out = b""
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out += zlib.decompress(stream)
        except zlib.error:
            out += stream
    return out
