"""Small PNG charts made with Pillow, embedded in the e-mail and the PDF.

Palette images without anti-aliasing: a chart is about 1 KB, so the e-mail stays far under its
size limit. Every chart has a text fallback (the tables beside it), so nothing depends on it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 420, 150
_PALETTE = [255, 255, 255, 37, 99, 235, 90, 90, 90, 22, 163, 74, 220, 38, 38, 210, 210, 210]
WHITE, BLUE, GREY, GREEN, RED, LIGHT = range(6)
_FONT = ImageFont.load_default()


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("P", (WIDTH, HEIGHT), WHITE)
    image.putpalette(_PALETTE + [0] * (768 - len(_PALETTE)))
    return image, ImageDraw.Draw(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def bars(values: Sequence[float], labels: Sequence[str]) -> bytes:
    """One bar per day, the value above it."""
    image, draw = _canvas()
    top, bottom, left = 18, HEIGHT - 18, 10
    slot = (WIDTH - 2 * left) / len(values)
    highest = max(values) or 1
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        x0 = left + i * slot + slot * 0.2
        x1 = left + (i + 1) * slot - slot * 0.2
        y = bottom - (bottom - top) * (value / highest)
        if value:
            draw.rectangle([x0, y, x1, bottom], fill=BLUE)
        draw.text((x0, max(y - 12, 2)), _short(value), fill=GREY, font=_FONT)
        draw.text((x0, bottom + 3), label, fill=GREY, font=_FONT)
    draw.line([left, bottom, WIDTH - left, bottom], fill=GREY)
    return _png(image)


def sentiment(values: Sequence[float], labels: Sequence[str]) -> bytes:
    """Average sentiment per day on a -1..1 axis: green above zero, red below."""
    image, draw = _canvas()
    top, bottom, left = 10, HEIGHT - 18, 10
    middle = (top + bottom) / 2
    slot = (WIDTH - 2 * left) / len(values)
    draw.line([left, middle, WIDTH - left, middle], fill=LIGHT)
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        x0 = left + i * slot + slot * 0.25
        x1 = left + (i + 1) * slot - slot * 0.25
        y = middle - (middle - top) * max(-1.0, min(1.0, value))
        if value:
            draw.rectangle(
                [x0, min(y, middle), x1, max(y, middle)], fill=GREEN if value > 0 else RED
            )
        draw.text((x0, bottom + 3), label, fill=GREY, font=_FONT)
    return _png(image)


def _short(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
