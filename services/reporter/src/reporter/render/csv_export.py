"""The CSV attachment: machine-readable figures (dot decimals, stable column names).

Sections follow each other in one file, each introduced by a `section` row: the figures, the
per-day breakdown (whose columns add up to the weekly totals), topics, members at risk,
follow-ups.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from reporter.content import FIGURES
from reporter.queries import ADDITIVE


def render_csv(content: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "figures"])
    writer.writerow(["figure", "value", "previous", "change"])
    for key in FIGURES:
        f = content["figures"][key]
        writer.writerow([key, f["value"], f["previous"], f["change"]])
    writer.writerow([])
    writer.writerow(["section", "daily"])
    writer.writerow(["date", *ADDITIVE])
    for day in content["daily"]:
        writer.writerow([day["date"], *(day[k] for k in ADDITIVE)])
    writer.writerow(["total", *(content["totals"][k] for k in ADDITIVE)])
    writer.writerow([])
    writer.writerow(["section", "topics"])
    writer.writerow(["topic", "count", "previous"])
    for t in content["topics"]:
        writer.writerow([t["topic"], t["count"], t["previous"]])
    writer.writerow([])
    writer.writerow(["section", "members_at_risk"])
    writer.writerow(["member_id", "first_name", "gym", "risk", "band", "raised_on"])
    for m in content["members_at_risk"]:
        writer.writerow(
            [
                m["member_id"],
                m.get("first_name") or "",
                m.get("gym", ""),
                m["risk"],
                m["band"],
                m.get("raised_on") or "",
            ]
        )
    writer.writerow([])
    writer.writerow(["section", "follow_ups"])
    writer.writerow(["at", "gym", "text"])
    for f in content["follow_ups"]:
        writer.writerow([f["at"], f.get("gym", ""), f["text"]])
    # utf-8-sig: spreadsheet programs then read accents correctly.
    return out.getvalue().encode("utf-8-sig")
