"""The limits of an import and of a check-in, and the media types an import accepts."""

from __future__ import annotations

from datetime import timedelta

# --- limits ------------------------------------------------------------------------------------

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
# The report lists at most this many failed rows; `failed` always counts them all.
MAX_LISTED_ERRORS = 1_000
# A check-in may be this far in the future (clocks of turnstiles and servers disagree a little).
CHECK_IN_CLOCK_SKEW = timedelta(minutes=5)

CSV_MEDIA_TYPES = frozenset(
    {"text/csv", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel"}
)
JSON_MEDIA_TYPES = frozenset({"application/json"})
