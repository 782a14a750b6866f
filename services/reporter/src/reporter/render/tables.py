"""The rows every format shows, in one place: the e-mail, the PDF and the CSV agree."""

from __future__ import annotations

from typing import Any

from reporter.content import FIGURES
from reporter.render.i18n import Words


def figure_rows(content: dict[str, Any], words: Words) -> list[tuple[str, str, str, str]]:
    rows = []
    for key in FIGURES:
        figure = content["figures"][key]
        rows.append(
            (
                words[key],
                words.number(figure["value"], key),
                words.number(figure["previous"], key),
                words.change(figure["change"], key),
            )
        )
    return rows


DAILY_COLUMNS = (
    "sessions",
    "check_ins",
    "new_members",
    "cancelled_members",
    "alerts_raised",
    "alerts_resolved",
    "conversations",
    "cost_usd",
)


def daily_rows(content: dict[str, Any], words: Words) -> list[list[str]]:
    names = words.day_names
    return [
        [f"{names[i]} {words.date(day['date'])}"]
        + [words.number(day[key], key) for key in DAILY_COLUMNS]
        for i, day in enumerate(content["daily"])
    ]
