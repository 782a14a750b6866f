"""A report's content: the figures of the week beside the week before, per day, and the lists.

Pure functions of what `queries` read, so the same data always gives the same JSON. Weekly
totals of additive figures are the sums of the days, so the per-day breakdown reconciles with
the week by construction; a franchise roll-up is built from its gyms' stored contents.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from reporter.queries import ADDITIVE, STATE, GymWeekData
from reporter.weeks import Week

# The order in which figures are shown; each has a value, the previous week's and the change.
FIGURES = (
    "sessions",
    "members_talked",
    "avg_session_seconds",
    "check_ins",
    "new_members",
    "cancelled_members",
    "members_at_start",
    "members_at_end",
    "attrition_rate",
    "alerts_raised",
    "alerts_resolved",
    "alerts_open",
    "conversations",
    "sentiment_average",
    "cost_usd",
    "cost_per_session_usd",
)
# Figures the registry shows in its list of reports (ReportGenerated.headline).
HEADLINE = ("sessions", "members_talked", "check_ins", "attrition_rate", "alerts_open", "cost_usd")


def _day_json(day: date, values: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"date": day.isoformat()}
    for key in ADDITIVE:
        value = values[key]
        if key == "cost_usd":
            row[key] = float(Decimal(value).quantize(Decimal("0.000001")))
        elif key in ("session_seconds", "sentiment_sum"):
            row[key] = round(float(value), 3)
        else:
            row[key] = int(value)
    return row


def _totals(days: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {}
    for key in ADDITIVE:
        total = sum(Decimal(str(d[key])) for d in days)
        totals[key] = (
            float(total) if key in ("cost_usd", "session_seconds", "sentiment_sum") else int(total)
        )
    return totals


def _ratio(a: float, b: float, digits: int = 4) -> float:
    return round(a / b, digits) if b else 0.0


def _week_figures(totals: dict[str, Any], state: dict[str, int]) -> dict[str, float]:
    average_members = (state["members_at_start"] + state["members_at_end"]) / 2
    figures = {
        **{key: totals[key] for key in ADDITIVE if key in FIGURES},
        **state,
        "avg_session_seconds": _ratio(totals["session_seconds"], totals["sessions"], 1),
        "attrition_rate": _ratio(totals["cancelled_members"], average_members),
        "sentiment_average": _ratio(totals["sentiment_sum"], totals["conversations"], 3),
        "cost_usd": round(totals["cost_usd"], 6),
        "cost_per_session_usd": _ratio(totals["cost_usd"], totals["sessions"], 6),
    }
    return {key: figures[key] for key in FIGURES}


def _compare(current: dict[str, float], previous: dict[str, float]) -> dict[str, Any]:
    return {
        key: {
            "value": current[key],
            "previous": previous[key],
            "change": round(current[key] - previous[key], 6),
        }
        for key in FIGURES
    }


def _assemble(
    header: dict[str, Any],
    daily: list[dict[str, Any]],
    previous_daily: list[dict[str, Any]],
    state: dict[str, dict[str, int]],
    topics: list[dict[str, Any]],
    follow_ups: list[dict[str, Any]],
    follow_ups_total: int,
    at_risk: list[dict[str, Any]],
) -> dict[str, Any]:
    totals = _totals(daily)
    current = _week_figures(totals, state["current"])
    previous = _week_figures(_totals(previous_daily), state["previous"])
    return {
        **header,
        "figures": _compare(current, previous),
        "totals": totals,
        "state": state,
        "daily": daily,
        "previous_daily": previous_daily,
        "topics": topics,
        "sentiment": {
            "positive": totals["positive"],
            "neutral": totals["neutral"],
            "negative": totals["negative"],
            "average": current["sentiment_average"],
            "previous_average": previous["sentiment_average"],
            "daily_average": [_ratio(d["sentiment_sum"], d["conversations"], 3) for d in daily],
        },
        "follow_ups": follow_ups,
        "follow_ups_total": follow_ups_total,
        "members_at_risk": at_risk,
    }


def gym_content(gym: dict[str, Any], week: Week, data: GymWeekData) -> dict[str, Any]:
    days = sorted(data.days)
    previous_daily = [_day_json(d, data.days[d]) for d in days[:7]]
    daily = [_day_json(d, data.days[d]) for d in days[7:]]
    header = {
        "scope": "gym",
        "gym": {"id": str(gym["gym_id"]), "name": gym["name"], "timezone": week.timezone},
        "franchise": _franchise(gym),
        "iso_week": week.iso,
        "week_start": week.start.isoformat(),
        "week_end": week.days[-1].isoformat(),
        "language": gym["language"],
    }
    return _assemble(
        header,
        daily,
        previous_daily,
        data.state,
        data.topics,
        data.follow_ups,
        sum(d["follow_ups"] for d in daily),
        data.at_risk,
    )


def franchise_content(
    franchise: dict[str, Any], week: Week, gyms: list[dict[str, Any]], list_limit: int
) -> dict[str, Any]:
    """The roll-up of the gyms' stored reports of the same ISO week."""

    def sum_days(key: str) -> list[dict[str, Any]]:
        days = [
            _day_json(d, dict.fromkeys(ADDITIVE, 0))
            for d in (week.previous.days if key == "previous_daily" else week.days)
        ]
        for gym in gyms:
            for total, row in zip(days, gym[key], strict=True):
                for field in ADDITIVE:
                    total[field] = _add(total[field], row[field], field)
        return days

    state = {
        when: {key: sum(g["state"][when][key] for g in gyms) for key in STATE}
        for when in ("current", "previous")
    }
    topics: Counter[str] = Counter()
    previous_topics: Counter[str] = Counter()
    for gym in gyms:
        for topic in gym["topics"]:
            topics[topic["topic"]] += topic["count"]
            previous_topics[topic["topic"]] += topic["previous"]
    top = sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    at_risk = sorted(
        ({**m, "gym": g["gym"]["name"]} for g in gyms for m in g["members_at_risk"]),
        key=lambda m: (-(m["risk"] or 0), m["member_id"]),
    )[:list_limit]
    follow_ups = sorted(
        ({**f, "gym": g["gym"]["name"]} for g in gyms for f in g["follow_ups"]),
        key=lambda f: (f["at"], f["gym"], f["text"]),
    )[:list_limit]
    header = {
        "scope": "franchise",
        "franchise": franchise,
        "iso_week": week.iso,
        "week_start": week.start.isoformat(),
        "week_end": week.days[-1].isoformat(),
        "language": franchise.get("language", "fr"),
        "gyms": [
            {
                "id": g["gym"]["id"],
                "name": g["gym"]["name"],
                **{key: g["figures"][key]["value"] for key in HEADLINE},
            }
            for g in sorted(gyms, key=lambda g: (g["gym"]["name"], g["gym"]["id"]))
        ],
    }
    return _assemble(
        header,
        sum_days("daily"),
        sum_days("previous_daily"),
        state,
        [{"topic": t, "count": c, "previous": previous_topics[t]} for t, c in top],
        follow_ups,
        sum(g["follow_ups_total"] for g in gyms),
        at_risk,
    )


def headline(content: dict[str, Any]) -> dict[str, float]:
    return {key: float(content["figures"][key]["value"]) for key in HEADLINE}


def _add(a: Any, b: Any, field: str) -> Any:
    if field in ("cost_usd", "session_seconds", "sentiment_sum"):
        return float(Decimal(str(a)) + Decimal(str(b)))
    return a + b


def _franchise(gym: dict[str, Any]) -> dict[str, Any] | None:
    if gym["franchise_id"] is None:
        return None
    return {"id": str(gym["franchise_id"]), "name": gym["franchise_name"]}
