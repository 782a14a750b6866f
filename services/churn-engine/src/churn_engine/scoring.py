"""Risk scoring of every active member as of a moment T: aggregate in SQL, score with numpy.

One statement computes every member's signals as of T into a temporary table (PostgreSQL can
run it in parallel there, which it cannot behind a cursor); the rows are then read in chunks,
scored vectorised and written back with COPY. Nothing at T or later is read: check-ins and
conversations are filtered `< T`, the member is the newest version updated before T, and a
gym's feed counts only if its first check-in came before T.
"""

from __future__ import annotations

import io
import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
import numpy as np

from churn_engine.model import LogisticModel
from churn_engine.models_store import ModelChoice
from churn_engine.reasons import CODES, reason_values, top_reasons
from churn_engine.signals import RECENT_DAYS, WINDOW_DAYS, Signals, feature_matrix

CHUNK = 100_000

# Every bound is absolute (N x 24 hours, dates read as UTC midnight), so the signals do not
# depend on the database session's time zone or on a daylight-saving change inside the window.
_RECENT = f"interval '{RECENT_DAYS * 24} hours'"
_WINDOW = f"interval '{WINDOW_DAYS * 24} hours'"
_JOINED = "(m.joined_at::timestamp AT TIME ZONE 'UTC')"

SIGNALS_SQL = f"""
CREATE TEMPORARY TABLE scoring_input ON COMMIT DROP AS
WITH m AS (
    SELECT DISTINCT ON (member_id) member_id, gym_id, status, contract_type, joined_at,
           contract_ends_at
    FROM member_versions
    WHERE updated_at < $1
    ORDER BY member_id, updated_at DESC
), v AS (
    SELECT member_id,
           count(*) FILTER (WHERE checked_in_at >= $1 - {_RECENT}) AS recent,
           count(*) FILTER (WHERE checked_in_at < $1 - {_RECENT}) AS before,
           count(*) FILTER (WHERE group_class) AS group_visits,
           count(*) AS visits,
           max(checked_in_at) AS last_visit
    FROM check_ins
    WHERE checked_in_at >= $1 - {_WINDOW} AND checked_in_at < $1
    GROUP BY member_id
), c AS (
    SELECT member_id,
           avg(sentiment_score) AS mean_sentiment,
           count(*) FILTER (WHERE negative) AS negative_conversations,
           sum(intent_to_cancel) AS intent_to_cancel,
           sum(complaints) AS complaints
    FROM conversations
    WHERE ended_at >= $1 - {_WINDOW} AND ended_at < $1
    GROUP BY member_id
), s AS (
    SELECT m.*, v.recent, v.before, v.group_visits, v.visits, v.last_visit, c.mean_sentiment,
           c.negative_conversations, c.intent_to_cancel, c.complaints,
           f.first_check_in_at AS feed_start,
           -- observable history: since joining and since the gym's check-in feed started
           date_part('epoch', $1 - greatest({_JOINED}, f.first_check_in_at))
               / 86400.0 AS history_days,
           date_part('epoch', (($1 - {_RECENT})
               - greatest($1 - {_WINDOW}, {_JOINED},
                          f.first_check_in_at))) / 86400.0 AS baseline_days,
           coalesce(t.amber, $2) AS amber, coalesce(t.red, $3) AS red
    FROM m
    LEFT JOIN v USING (member_id)
    LEFT JOIN c USING (member_id)
    LEFT JOIN gym_feeds f ON f.gym_id = m.gym_id AND f.first_check_in_at < $1
    LEFT JOIN gym_thresholds t ON t.gym_id = m.gym_id
    WHERE m.status = 'active'
)
SELECT row_number() OVER () AS n, member_id, gym_id, contract_type,
       -- an index into the run's sorted contract types (0 = none), so rows stay fixed-width
       coalesce(array_position($6::text[], contract_type), 0) AS contract,
       (date_part('epoch', $1 - last_visit) / 86400.0)::float8 AS days_since_last_visit,
       coalesce(recent, 0)::float8 AS visits_28d,
       CASE WHEN baseline_days >= 14
            THEN coalesce(before, 0) / (baseline_days / 7.0) END::float8
           AS visits_baseline_per_week,
       coalesce(date_part('epoch', $1 - coalesce(joined_at::timestamp AT TIME ZONE 'UTC',
                                                 feed_start)) / 86400.0,
                0)::float8 AS tenure_days,
       -- no check-in feed: no history at all
       CASE WHEN feed_start IS NULL THEN 0
            ELSE coalesce(history_days, date_part('epoch', $1 - feed_start) / 86400.0)
       END::float8 AS history_days,
       (contract_ends_at - $4::date)::float8 AS days_to_contract_end,
       (group_visits::float8 / nullif(visits, 0)) AS group_class_share,
       mean_sentiment::float8,
       coalesce(negative_conversations, 0)::float8 AS negative_conversations,
       coalesce(intent_to_cancel, 0)::float8 AS intent_to_cancel,
       coalesce(complaints, 0)::float8 AS complaints,
       amber::float8, red::float8,
       coalesce(array_position($5::uuid[], gym_id), 0) AS model_slot
FROM s
"""

NUMERIC = (
    "days_since_last_visit",
    "visits_28d",
    "visits_baseline_per_week",
    "tenure_days",
    "history_days",
    "days_to_contract_end",
    "group_class_share",
    "mean_sentiment",
    "negative_conversations",
    "intent_to_cancel",
    "complaints",
)
BANDS = ("green", "amber", "red", "insufficient_data")

# Rows cross the wire as PostgreSQL binary COPY with fixed-width fields only (NULLs are NaN, the
# contract type is an index into the run's list of contract types), so numpy reads and writes
# them whole: no Python object per member.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)


def _row_dtype(fields: list[tuple[str, str]]) -> np.dtype:
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    for name, kind in fields:
        layout += [(f"{name}_len", ">i4"), (name, kind)]
    return np.dtype(layout)


_INPUT = _row_dtype(
    [
        ("member_id", "V16"),
        ("gym_id", "V16"),
        ("contract", ">i4"),
        *[(name, ">f8") for name in NUMERIC],
        ("amber", ">f8"),
        ("red", ">f8"),
        ("model_slot", ">i4"),
    ]
)
_READ_SQL = (
    "SELECT member_id, gym_id, "
    "contract::int4, "
    + ", ".join(f"coalesce({name}, 'NaN')::float8" for name in NUMERIC)
    + ", amber, red, model_slot::int4 FROM scoring_input WHERE n > {lo} AND n <= {hi}"
)
_OUTPUT = _row_dtype(
    [
        ("member_id", "V16"),
        ("gym_id", "V16"),
        ("risk", ">f8"),
        ("band", ">i2"),
        ("model", ">i2"),
        *[(f"{kind}{k}", t) for k in (1, 2, 3) for kind, t in (("code", ">i2"), ("value", ">f8"))],
        ("contract", ">i4"),
    ]
)
_SCORED_TABLE = (
    "CREATE TEMPORARY TABLE scored (member_id uuid, gym_id uuid, risk float8, band int2, "
    "model int2, code1 int2, value1 float8, code2 int2, value2 float8, code3 int2, "
    "value3 float8, contract int4) ON COMMIT DROP"
)


_WRITE_SQL = """
INSERT INTO risk_scores (member_id, day, gym_id, as_of, risk, band, model_version, reason1,
                         value1, reason2, value2, reason3, value3, contract_type)
SELECT member_id, $1, gym_id, $2, nullif(risk, 'NaN'), ($3::text[])[band + 1],
       ($4::text[])[model + 1],
       ($5::text[])[nullif(code1, -1) + 1], nullif(value1, 'NaN'),
       ($5::text[])[nullif(code2, -1) + 1], nullif(value2, 'NaN'),
       ($5::text[])[nullif(code3, -1) + 1], nullif(value3, 'NaN'),
       ($6::text[])[contract]
FROM scored
ORDER BY member_id
"""


@dataclass
class ScoringOutcome:
    members: int = 0
    bands: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    # seconds per phase: signals (SQL), read, score (numpy), stage (COPY in), write (INSERT)
    seconds: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "members": self.members,
            "bands": dict(self.bands),
            "models": dict(self.models),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


@dataclass
class ScoredChunk:
    risk: np.ndarray  # NaN where the data is insufficient
    bands: np.ndarray  # index into BANDS
    models: np.ndarray  # index into the models list
    contributions: np.ndarray
    values: np.ndarray


def score_signals(
    signals: Signals,
    models: list[LogisticModel],
    slots: np.ndarray,
    amber: np.ndarray,
    red: np.ndarray,
) -> ScoredChunk:
    """Pure arithmetic: the same signals and models always give the same scores."""
    x = feature_matrix(signals)
    contributions = np.zeros_like(x)
    risk = np.empty(len(x))
    for slot, model in enumerate(models):
        mask = slots == slot
        if mask.any():
            part = model.contributions(x[mask])
            contributions[mask] = part
            risk[mask] = model.risk(part)
    enough = signals.enough_history()
    risk = np.where(enough, risk, np.nan)
    bands = np.where(risk >= red, 2, np.where(risk >= amber, 1, 0))
    bands[~enough] = 3
    return ScoredChunk(risk, bands, slots, contributions, reason_values(x, signals))


async def score_members(
    conn: asyncpg.Connection,
    *,
    as_of: datetime,
    day: date,
    choice: ModelChoice,
    default_amber: float,
    default_red: float,
) -> ScoringOutcome:
    """Score every member active as of `as_of` into `risk_scores` for `day` (replacing it).

    Runs inside the caller's transaction; `conn` is the transaction's asyncpg connection.
    """
    clock = time.perf_counter()
    outcome = ScoringOutcome()
    await conn.execute("SET LOCAL work_mem = '256MB'")
    for table in ("scoring_input", "scored"):
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
    contracts: list[str] = await conn.fetchval(
        "SELECT coalesce(array_agg(contract_type ORDER BY contract_type), '{}') FROM "
        "(SELECT DISTINCT contract_type FROM member_versions WHERE contract_type IS NOT NULL) c"
    )
    await conn.execute(
        SIGNALS_SQL, as_of, default_amber, default_red, day, list(choice.gym_models), contracts
    )
    await conn.execute(_SCORED_TABLE)
    total = await conn.fetchval("SELECT count(*) FROM scoring_input")
    contract_names = np.array([None, *contracts], dtype=object)
    models = [choice.fallback, *choice.gym_models.values()]
    clock = _lap(outcome, "signals", clock)
    for lo in range(0, total, CHUNK):
        buffer = io.BytesIO()
        await conn.copy_from_query(
            _READ_SQL.format(lo=int(lo), hi=int(lo + CHUNK)),
            output=buffer,
            format="binary",
        )
        rows = _rows(buffer.getvalue(), _INPUT)
        clock = _lap(outcome, "read", clock)
        columns: dict[str, Any] = {name: rows[name].astype(np.float64) for name in NUMERIC}
        contract = rows["contract"].astype(np.int64)
        columns["contract_type"] = contract_names[contract]
        scored = score_signals(
            Signals.from_columns(columns),
            models,
            rows["model_slot"].astype(np.int64),
            rows["amber"].astype(np.float64),
            rows["red"].astype(np.float64),
        )
        codes, values = top_reasons(scored.contributions, scored.values)
        codes[scored.bands == BANDS.index("insufficient_data")] = -1
        out = np.zeros(len(rows), dtype=_OUTPUT)
        out["fields"] = 12
        for name in _OUTPUT.names:
            if name.endswith("_len"):
                out[name] = _OUTPUT[name[:-4]].itemsize
        out["member_id"] = rows["member_id"]
        out["gym_id"] = rows["gym_id"]
        out["risk"] = scored.risk
        out["band"] = scored.bands
        out["model"] = scored.models
        for k in range(3):
            out[f"code{k + 1}"] = codes[:, k]
            out[f"value{k + 1}"] = values[:, k]
        out["contract"] = contract
        clock = _lap(outcome, "score", clock)
        await conn.copy_to_table(
            "scored",
            source=io.BytesIO(_COPY_HEADER + out.tobytes() + _COPY_TRAILER),
            format="binary",
        )
        clock = _lap(outcome, "stage", clock)
        outcome.members += len(rows)
        for band, n in enumerate(np.bincount(scored.bands, minlength=len(BANDS))):
            outcome.bands[BANDS[band]] += int(n)
        for slot, n in enumerate(np.bincount(scored.models, minlength=len(models))):
            outcome.models[models[slot].version] += int(n)
    await conn.execute("DELETE FROM risk_scores WHERE day = $1", day)
    await conn.execute(
        _WRITE_SQL, day, as_of, list(BANDS), [m.version for m in models], list(CODES), contracts
    )
    _lap(outcome, "write", clock)
    outcome.bands = Counter({k: v for k, v in outcome.bands.items() if v})
    outcome.models = Counter({k: v for k, v in outcome.models.items() if v})
    return outcome


def _rows(data: bytes, dtype: np.dtype) -> np.ndarray:
    body = data[len(_COPY_HEADER) : -len(_COPY_TRAILER)]
    return np.frombuffer(body, dtype=dtype)


def _lap(outcome: ScoringOutcome, phase: str, since: float) -> float:
    now = time.perf_counter()
    outcome.seconds[phase] += now - since
    return now
