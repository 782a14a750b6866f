"""A member's signals as of a moment, column-wise: what scoring and training read.

The same columns come from the database (`churn_engine.scoring.query`) and from a CSV of member
features (`score-csv`), so a model is checked against outside data with exactly the arithmetic
it is run with. Missing values are NaN (see `SIGNAL_COLUMNS` for what NaN means per column).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# name -> what NaN (an empty CSV cell) means
SIGNAL_COLUMNS: dict[str, str] = {
    "days_since_last_visit": "no visit in the last 90 days",
    "visits_28d": "(required)",
    "visits_baseline_per_week": "under 14 days of history before the last 28 days",
    "tenure_days": "(required)",
    "history_days": "same as tenure_days",
    "days_to_contract_end": "open-ended contract",
    "group_class_share": "no visit in the last 90 days",
    "mean_sentiment": "no conversation in the last 90 days",
    "negative_conversations": "none",
    "intent_to_cancel": "none",
    "complaints": "none",
}

# A member needs this much observable history (membership and check-in feed) to be scored.
MIN_HISTORY_DAYS = 14
RECENT_DAYS = 28
WINDOW_DAYS = 90


@dataclass
class Signals:
    days_since_last_visit: np.ndarray
    visits_28d: np.ndarray
    visits_baseline_per_week: np.ndarray
    tenure_days: np.ndarray
    history_days: np.ndarray
    days_to_contract_end: np.ndarray
    group_class_share: np.ndarray
    mean_sentiment: np.ndarray
    negative_conversations: np.ndarray
    intent_to_cancel: np.ndarray
    complaints: np.ndarray
    contract_type: np.ndarray  # object array of str | None

    def __len__(self) -> int:
        return len(self.visits_28d)

    @classmethod
    def from_columns(cls, columns: dict[str, list | np.ndarray]) -> Signals:
        values = {}
        for f in fields(cls):
            if f.name == "contract_type":
                values[f.name] = np.asarray(columns.get(f.name, []), dtype=object)
            else:
                values[f.name] = np.asarray(columns[f.name], dtype=np.float64)
        signals = cls(**values)
        if len(signals.contract_type) == 0:
            signals.contract_type = np.full(len(signals), None, dtype=object)
        return signals

    def enough_history(self) -> np.ndarray:
        history = np.where(np.isnan(self.history_days), self.tenure_days, self.history_days)
        return history >= MIN_HISTORY_DAYS


FEATURES = (
    "recency",
    "visit_trend",
    "visits_per_week",
    "tenure_years",
    "contract_ending",
    "no_commitment",
    "group_share",
    "sentiment",
    "negative_conversations",
    "intent_to_cancel",
    "complaints",
)

# Contract types read as "can leave at the end of any month"; anything else is a commitment.
NO_COMMITMENT_CONTRACTS = frozenset({"monthly", "month", "flex", "no_commitment", "pay_as_you_go"})


def no_commitment(contract_types: np.ndarray) -> np.ndarray:
    return np.fromiter(
        (c is None or str(c).strip().lower() in NO_COMMITMENT_CONTRACTS for c in contract_types),
        dtype=np.float64,
        count=len(contract_types),
    )


def feature_matrix(s: Signals) -> np.ndarray:
    """The model's inputs, one column per name in FEATURES, bounded so no one signal runs away."""
    history = np.where(np.isnan(s.history_days), s.tenure_days, s.history_days)
    never = np.minimum(history, WINDOW_DAYS)
    last = s.days_since_last_visit
    recency = np.minimum(np.where(np.isnan(last), never, last), WINDOW_DAYS)
    weeks = np.clip(np.minimum(history, RECENT_DAYS) / 7.0, 1.0, 4.0)
    recent_rate = s.visits_28d / weeks
    known = ~np.isnan(s.visits_baseline_per_week)
    base = np.nan_to_num(s.visits_baseline_per_week)
    trend = np.where(known, (recent_rate - base) / (base + 0.5), 0.0)
    ends = s.days_to_contract_end
    ending = np.where(np.isnan(ends), 0.0, np.clip((60.0 - np.nan_to_num(ends)) / 60.0, 0.0, 1.0))
    columns = (
        recency,
        np.clip(trend, -1.0, 2.0),
        np.minimum(recent_rate, 7.0),
        np.minimum(s.tenure_days / 365.0, 5.0),
        ending,
        no_commitment(s.contract_type),
        np.nan_to_num(s.group_class_share),
        np.nan_to_num(s.mean_sentiment),
        np.minimum(np.nan_to_num(s.negative_conversations), 5.0),
        np.minimum(np.nan_to_num(s.intent_to_cancel), 3.0),
        np.minimum(np.nan_to_num(s.complaints), 5.0),
    )
    return np.column_stack(columns)
