"""Reasons: a score's largest contributions, named from a fixed vocabulary, with their values.

A reason is `{"code": ..., "value": ...}` (`RiskReason` in the event catalogue). The value is the
member's own figure that triggered it, in the unit the code names (docs/churn.md lists them).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from churn_engine.signals import FEATURES, Signals

# feature -> reason code
REASON_CODES: dict[str, str] = {
    "recency": "no_recent_visit",  # days since the last visit
    "visit_trend": "visits_dropped",  # relative change of weekly visits against the baseline
    "visits_per_week": "low_visit_frequency",  # visits per week over the last 28 days
    "tenure_years": "new_member",  # days since joining
    "contract_ending": "contract_ends_soon",  # days until the contract ends (<= 0: ended)
    "no_commitment": "no_commitment_contract",  # the contract type
    "group_share": "no_group_classes",  # share of visits that were group classes
    "sentiment": "negative_sentiment",  # mean conversation sentiment, -1..1
    "negative_conversations": "negative_conversations",  # count over 90 days
    "intent_to_cancel": "intent_to_cancel",  # times said at the kiosk over 90 days
    "complaints": "complaints",  # complaints and price concerns over 90 days
}
CODES = tuple(REASON_CODES[f] for f in FEATURES)
MAX_REASONS = 3
# Contributions (log-odds against a typical member) below this are not worth a staff's attention;
# the strongest one is still given, so every score has at least one reason.
MIN_CONTRIBUTION = 0.25
CONTRACT = FEATURES.index("no_commitment")


def reason_values(features: np.ndarray, signals: Signals) -> np.ndarray:
    """Per feature, the figure a reason reports (in the units REASON_CODES documents)."""
    values = features.copy()
    values[:, FEATURES.index("tenure_years")] = signals.tenure_days
    values[:, FEATURES.index("contract_ending")] = signals.days_to_contract_end
    values[:, CONTRACT] = np.nan  # the contract type itself, filled in by the caller
    return values


def top_reasons(contributions: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per member, up to three (feature index, value) pairs, strongest first; index -1 = none."""
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :MAX_REASONS]
    top = np.take_along_axis(contributions, order, axis=1)
    keep = top > MIN_CONTRIBUTION
    keep[:, 0] = True
    picked = np.take_along_axis(values, order, axis=1).round(2)
    return np.where(keep, order, -1), picked


def reasons_json(
    contributions: np.ndarray, values: np.ndarray, contract_types: np.ndarray
) -> list[str]:
    """One JSON array per member (the CSV path; the database builds its own in SQL)."""
    features, picked = top_reasons(contributions, values)
    out: list[str] = []
    for row in range(len(features)):
        parts = []
        for slot in range(MAX_REASONS):
            feature = features[row, slot]
            if feature < 0:
                break
            if feature == CONTRACT:
                kind = contract_types[row]
                value = "null" if kind is None else json.dumps(str(kind))
            else:
                number = picked[row, slot]
                value = "null" if math.isnan(number) else repr(float(number))
            parts.append(f'{{"code": "{CODES[feature]}", "value": {value}}}')
        out.append("[" + ", ".join(parts) + "]")
    return out


def from_row(row: Any) -> list[dict[str, Any]]:
    """The reasons of a `risk_scores` row, as `RiskReason` fields."""
    reasons = []
    for k in (1, 2, 3):
        code = row[f"reason{k}"]
        if code is None:
            break
        value = row[f"value{k}"]
        if code == REASON_CODES["no_commitment"]:
            value = row["contract_type"]
        elif value is not None and math.isnan(value):
            value = None
        reasons.append({"code": code, "value": value})
    return reasons
