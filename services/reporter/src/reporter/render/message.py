"""The e-mail of a report: HTML with inline charts (cid), a plain-text part, PDF and CSV.

A report is rendered once (`render_report`) and wrapped into one message per recipient
(`render_messages`). The HTML needs no JavaScript and no remote resources; each chart has alt text
and the tables carry the same numbers, so a client that blocks images loses nothing.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from reporter.content import HEADLINE
from reporter.render import charts
from reporter.render.csv_export import render_csv
from reporter.render.i18n import Words
from reporter.render.pdf import render_pdf
from reporter.render.tables import DAILY_COLUMNS, daily_rows, figure_rows

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
)
# A franchise of many gyms lists the first ones in the e-mail; all are in the PDF and CSV.
MAX_GYMS_IN_EMAIL = 60


@dataclass(frozen=True)
class RenderedReport:
    subject: str
    html: str
    text: str
    charts: dict[str, bytes]  # content id -> PNG
    pdf: bytes
    csv: bytes
    filename: str


def render_report(report_id: str, content: dict[str, Any]) -> RenderedReport:
    words = Words(content["language"])
    franchise = content["scope"] == "franchise"
    title = words["franchise_title"] if franchise else words["title"]
    if franchise:
        name = content["franchise"]["name"] or content["franchise"]["id"]
    else:
        name = content["gym"]["name"]
    days = words.day_names
    sessions = [d["sessions"] for d in content["daily"]]
    sentiment = content["sentiment"]["daily_average"]
    cids = {
        "sessions": f"sessions.{report_id}@reporter.jarvis",
        "sentiment": f"sentiment.{report_id}@reporter.jarvis",
    }
    gyms = content.get("gyms") or []
    figures = figure_rows(content, words)
    daily = daily_rows(content, words)
    html = _templates.get_template("report.html").render(
        c=content,
        words=words,
        title=title,
        subject=name,
        figures=figures,
        daily=daily,
        daily_columns=DAILY_COLUMNS,
        cids=cids,
        sessions_alt=", ".join(f"{d} {v}" for d, v in zip(days, sessions, strict=True)),
        sentiment_alt=", ".join(
            f"{d} {words.number(v)}" for d, v in zip(days, sentiment, strict=True)
        ),
        at_risk=content["members_at_risk"],
        follow_ups=content["follow_ups"],
        gyms=gyms[:MAX_GYMS_IN_EMAIL],
        gyms_more=max(0, len(gyms) - MAX_GYMS_IN_EMAIL),
        headline=HEADLINE,
    )
    text = "\n".join(
        [f"{title} - {name}", words.week_line(content), ""]
        + [
            f"{label}: {value} ({words['previous_week']}: {prev}, {change})"
            for label, value, prev, change in figures
        ]
        + ["", words["attachments"]]
    )
    slug = f"{'franchise' if franchise else 'gym'}-{content['iso_week']}"
    return RenderedReport(
        subject=f"{title} - {name} - {content['iso_week']}",
        html=html,
        text=text,
        charts={
            cids["sessions"]: charts.bars(sessions, days),
            cids["sentiment"]: charts.sentiment(sentiment, days),
        },
        pdf=render_pdf(content, words, title, name, figures, daily),
        csv=render_csv(content),
        filename=f"jarvis-report-{slug}",
    )


def render_messages(
    report_id: str, content: dict[str, Any], sender: str, recipients: list[tuple[str, str]]
) -> list[bytes]:
    """Every recipient's message (recipient, Message-ID) as SMTP-ready bytes.

    A pure function of its arguments, so it can run in a worker process. The MIME body is
    written once by hand (the `email` package's object model costs as much as the PDF) and
    each recipient only gets its own header block.
    """
    rendered = render_report(report_id, content)
    body, content_type = mime_body(rendered, report_id)
    subject = Header(rendered.subject, "utf-8").encode(linesep="\r\n")
    date = format_datetime(datetime.now(UTC))
    sender = formataddr(parseaddr(sender), charset="utf-8")
    out = []
    for recipient, message_id in recipients:
        head = (
            f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n"
        )
        out.append(head.encode("ascii") + b"\r\n" + body)
    return out


def mime_body(rendered: RenderedReport, report_id: str) -> tuple[bytes, str]:
    """multipart/mixed [ alternative [ text, related [ html, charts ] ], pdf, csv ]."""
    mixed, alternative, related = (f"=_{kind}_{report_id}" for kind in ("m", "a", "r"))
    parts = [
        _multipart_start(mixed, f'multipart/alternative; boundary="{alternative}"'),
        _part(alternative, 'text/plain; charset="utf-8"', rendered.text.encode()),
        _multipart_start(alternative, f'multipart/related; boundary="{related}"'),
        _part(related, 'text/html; charset="utf-8"', rendered.html.encode()),
        *(
            _part(related, "image/png", png, f"Content-ID: <{cid}>\r\nContent-Disposition: inline")
            for cid, png in rendered.charts.items()
        ),
        f"--{related}--\r\n".encode(),
        f"--{alternative}--\r\n".encode(),
        _part(
            mixed,
            "application/pdf",
            rendered.pdf,
            f'Content-Disposition: attachment; filename="{rendered.filename}.pdf"',
        ),
        _part(
            mixed,
            'text/csv; charset="utf-8"',
            rendered.csv,
            f'Content-Disposition: attachment; filename="{rendered.filename}.csv"',
        ),
        f"--{mixed}--\r\n".encode(),
    ]
    return b"".join(parts), f'multipart/mixed; boundary="{mixed}"'


def _multipart_start(boundary: str, content_type: str) -> bytes:
    return f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode()


def _part(boundary: str, content_type: str, payload: bytes, extra: str = "") -> bytes:
    head = f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n"
    if extra:
        head += extra + "\r\n"
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return head.encode() + b"\r\n" + encoded
