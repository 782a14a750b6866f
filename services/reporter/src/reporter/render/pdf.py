"""The PDF attachment, with fpdf2's core fonts (no font files to ship).

Core fonts cover Latin-1, which has every French letter but not the euro sign, typographic
quotes or the narrow no-break space: those are replaced by Latin-1 equivalents before drawing.
Tables are set in Courier, one line of aligned columns per row: a report is rendered for every
gym every week, and one text cell per row costs a fraction of one cell per value.
"""

from __future__ import annotations

from typing import Any

from fpdf import FPDF

from reporter.content import HEADLINE
from reporter.render.i18n import Words
from reporter.render.tables import DAILY_COLUMNS

_REPLACEMENTS = str.maketrans(
    {
        "\u20ac": "EUR",
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u202f": " ",
        "\u00a0": " ",
        "\u0153": "oe",
        "\u0152": "OE",
    }
)
LINE = 110  # characters of a Courier 7.5 pt line on A4 with 10 mm margins


def latin1(value: object) -> str:
    text = str(value).translate(_REPLACEMENTS)
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(
    content: dict[str, Any],
    words: Words,
    title: str,
    subject: str,
    figures: list[tuple[str, str, str, str]],
    daily: list[list[str]],
) -> bytes:
    """`figures` and `daily` are `render.tables`' rows, built once for every format of a report."""
    pdf = FPDF(format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_title(latin1(f"{title} {subject} {content['iso_week']}"))
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 8, latin1(f"{title} - {subject}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 10)
    pdf.cell(0, 6, latin1(words.week_line(content)), new_x="LMARGIN", new_y="NEXT")
    _table(
        pdf,
        [words["figure"], words["this_week"], words["previous_week"], words["change"]],
        figures,
        [46, 18, 18, 14],
    )
    _heading(pdf, words["daily"])
    _table(
        pdf,
        [words["day"], *(words[k][:11] for k in DAILY_COLUMNS)],
        daily,
        [16] + [11] * len(DAILY_COLUMNS),
    )
    _heading(pdf, words["topics"])
    _lines(pdf, [f"{t['topic']}: {t['count']}" for t in content["topics"]], words)
    _heading(pdf, words["sentiment"])
    s = content["sentiment"]
    _lines(
        pdf,
        [
            f"{s['positive']} {words['positive']}, {s['neutral']} {words['neutral']}, "
            f"{s['negative']} {words['negative']} ({words.number(s['average'])})"
        ],
        words,
    )
    if content.get("gyms"):
        _heading(pdf, words["gyms"])
        _table(
            pdf,
            [words["gym"], *(words[k][:13] for k in HEADLINE)],
            [[g["name"], *(words.number(g[k], k) for k in HEADLINE)] for g in content["gyms"]],
            [26] + [13] * len(HEADLINE),
        )
    _heading(pdf, words["at_risk"])
    _lines(
        pdf,
        [
            f"{m.get('first_name') or m['member_id'][:8]}"
            f"{' (' + m['gym'] + ')' if m.get('gym') else ''}: "
            f"{words.number(m['risk'] or 0)} {m['band'] or ''}"
            for m in content["members_at_risk"]
        ],
        words,
    )
    _heading(pdf, f"{words['follow_ups']} ({content['follow_ups_total']})")
    _lines(pdf, [f"{f['at']} - {f['text']}" for f in content["follow_ups"]], words)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(0, 7, latin1(text), new_x="LMARGIN", new_y="NEXT")


def _lines(pdf: FPDF, lines: list[str], words: Words) -> None:
    pdf.set_font("helvetica", "", 9)
    for line in lines or [words["none"]]:
        text = latin1(line)
        pdf.cell(
            0, 5, text if len(text) <= 140 else text[:137] + "...", new_x="LMARGIN", new_y="NEXT"
        )


def _table(pdf: FPDF, header: list[str], rows: list[Any], widths: list[int]) -> None:
    """Columns of `widths` characters: the first left-aligned, the others right-aligned."""

    def line(cells: list[Any]) -> str:
        first, *rest = (latin1(c) for c in cells)
        text = first[: widths[0] - 1].ljust(widths[0])
        text += "".join(c[: w - 1].rjust(w) for c, w in zip(rest, widths[1:], strict=True))
        return text[:LINE]

    pdf.set_font("courier", "B", 7.5)
    pdf.cell(0, 4.5, line(header), border="B", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("courier", "", 7.5)
    for row in rows:
        pdf.cell(0, 4, line(row), new_x="LMARGIN", new_y="NEXT")
