"""Masking phone numbers, e-mail addresses and payment card numbers before text leaves us.

Applied to every transcript line before any provider sees it, so neither the model nor the
stored summary (whose churn evidence quotes the member) ever holds them. It errs on the side of
masking: any run of 13 to 19 digits is a card (Luhn-valid or not), any other run of 9 to 15
digits, with the separators people dictate (spaces, dots, dashes, brackets, a leading + or 00),
is a phone number. Numbers spelled out in words ("zéro six douze…") are not recognised.
"""

from __future__ import annotations

import re

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"

# Anchored at the start of a token and bounded, so a long run of letters costs linear time.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}\s?@\s?[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
# A digit, then digits with at most two separator characters between them.
_NUMBER = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d(?:[\s.\-()]{0,2}\d){7,22}(?![\w])")


def mask(text: str) -> str:
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    return _NUMBER.sub(_mask_number, text)


def _mask_number(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    if 13 <= digits <= 19 and not found.startswith(("+", "00")):
        return CARD
    if 9 <= digits <= 15:
        return PHONE
    if digits > 15:
        return CARD
    return found
