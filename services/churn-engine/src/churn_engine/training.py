"""Training a model from the projection's labelled history, with a time-based split.

Snapshots: every `every_days` days, each member active at that moment with its signals as of
then (the same SQL as scoring) and a label: did the member cancel within the next 30 days?
Snapshots whose 30 days have not passed yet are not used. The earlier 70 % of snapshot dates
train, the later 30 % test, so the reported metrics are on members and months the model has not
seen; training snapshots within 30 days (the label window) of the first test snapshot are left
out, so no cancellation is both learnt from and tested on. A model is saved only with enough
history (`ENOUGH`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
from sklearn.linear_model import LogisticRegression

from churn_engine.evaluation import evaluate
from churn_engine.model import DEFAULT_MODEL, LogisticModel
from churn_engine.models_store import save_model
from churn_engine.scoring import NUMERIC, SIGNALS_SQL
from churn_engine.signals import Signals, feature_matrix

LABEL_DAYS = 30
TEST_SHARE = 0.3


@dataclass(frozen=True)
class Enough:
    """What "enough labelled history" means: below this the documented default stays."""

    train_rows: int = 1000
    train_positives: int = 50
    test_positives: int = 20
    snapshots: int = 4


ENOUGH = Enough()


@dataclass
class Snapshot:
    as_of: datetime
    signals: Signals
    labels: np.ndarray


_LABELS = f"""
SELECT s.{{cols}}, EXISTS (
    SELECT 1 FROM member_versions v
    WHERE v.member_id = s.member_id AND v.status = 'cancelled'
      AND coalesce(v.cancelled_at::timestamp AT TIME ZONE 'UTC', v.updated_at) >= $1
      AND coalesce(v.cancelled_at::timestamp AT TIME ZONE 'UTC', v.updated_at)
          < $1 + interval '{LABEL_DAYS * 24} hours'
) AS label
FROM scoring_input s
WHERE $2::uuid IS NULL OR s.gym_id = $2
"""


async def load_snapshot(
    conn: asyncpg.Connection, as_of: datetime, gym_id: uuid.UUID | None
) -> Snapshot:
    await conn.execute("DROP TABLE IF EXISTS scoring_input")
    await conn.execute(SIGNALS_SQL, as_of, 0.3, 0.6, as_of.date(), [], [])
    rows = await conn.fetch(
        _LABELS.format(cols=", s.".join(("contract_type", *NUMERIC))), as_of, gym_id
    )
    columns: dict[str, Any] = {name: [r[name] for r in rows] for name in NUMERIC}
    columns["contract_type"] = [r["contract_type"] for r in rows]
    signals = Signals.from_columns(columns)
    labels = np.array([r["label"] for r in rows], dtype=np.int64)
    # Members without enough history are not scored, so they are not learnt from either.
    keep = signals.enough_history()
    return Snapshot(as_of, _subset(signals, keep), labels[keep])


def _subset(signals: Signals, mask: np.ndarray) -> Signals:
    return Signals(**{name: value[mask] for name, value in vars(signals).items()})


def snapshot_moments(first: datetime, last: datetime, every_days: int) -> list[datetime]:
    moments, at = [], last
    while at >= first:
        moments.append(at)
        at -= timedelta(days=every_days)
    return sorted(moments)


def fit(signals: Signals, labels: np.ndarray, version: str) -> LogisticModel:
    x = feature_matrix(signals)
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales < 1e-9] = 1.0
    z = np.clip((x - means) / scales, -4.0, 4.0)
    regression = LogisticRegression(C=1.0, max_iter=1000)
    regression.fit(z, labels)
    return LogisticModel(
        version=version,
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        coefficients=tuple(float(v) for v in regression.coef_[0]),
        intercept=float(regression.intercept_[0]),
    )


def concat(snapshots: list[Snapshot]) -> tuple[Signals, np.ndarray]:
    names = vars(snapshots[0].signals)
    signals = Signals(**{k: np.concatenate([vars(s.signals)[k] for s in snapshots]) for k in names})
    return signals, np.concatenate([s.labels for s in snapshots])


def split(snapshots: list[Snapshot]) -> tuple[list[Snapshot], list[Snapshot]]:
    """The earlier 70 % of snapshot dates train, the later 30 % test, with a label window between.

    A training snapshot's label looks 30 days ahead; were it less than that before the first test
    snapshot, the model would learn from cancellations the test part is scored on, and the test
    metrics would flatter it.
    """
    cut = max(1, round(len(snapshots) * (1 - TEST_SHARE)))
    testing = snapshots[cut:]
    if not testing:
        return snapshots, []
    horizon = testing[0].as_of - timedelta(days=LABEL_DAYS)
    return [s for s in snapshots[:cut] if s.as_of <= horizon], testing


def model_risk(model: LogisticModel, signals: Signals) -> np.ndarray:
    return model.risk(model.contributions(feature_matrix(signals)))


async def train(
    conn: asyncpg.Connection,
    *,
    gym_id: uuid.UUID | None,
    last_as_of: datetime,
    first_as_of: datetime,
    every_days: int,
    activate: bool,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Train, evaluate against the default on the same test set, save if there was enough."""
    now = now or datetime.now(UTC)
    moments = [
        m
        for m in snapshot_moments(first_as_of, last_as_of, every_days)
        if m + timedelta(days=LABEL_DAYS) <= now
    ]
    report: dict[str, Any] = {
        "gym_id": str(gym_id) if gym_id else None,
        "snapshots": [m.isoformat() for m in moments],
    }
    if len(moments) < ENOUGH.snapshots:
        report["saved"] = False
        report["why_not"] = f"needs {ENOUGH.snapshots} snapshot dates with 30 days of hindsight"
        return report
    async with conn.transaction():
        snapshots = [await load_snapshot(conn, m, gym_id) for m in moments]
    training, testing = split(snapshots)
    if not training or not testing:
        report["saved"] = False
        report["why_not"] = (
            f"not enough snapshot dates for a training and a test part {LABEL_DAYS} days apart"
        )
        return report
    train_signals, train_labels = concat(training)
    test_signals, test_labels = concat(testing)
    report["train"] = {
        "members": len(train_labels),
        "positives": int(train_labels.sum()),
        "snapshots": [s.as_of.isoformat() for s in training],
    }
    report["test"] = {
        "members": len(test_labels),
        "positives": int(test_labels.sum()),
        "snapshots": [s.as_of.isoformat() for s in testing],
    }
    short = (
        len(train_labels) < ENOUGH.train_rows
        or train_labels.sum() < ENOUGH.train_positives
        or test_labels.sum() < ENOUGH.test_positives
    )
    if short:
        report["saved"] = False
        report["why_not"] = (
            f"not enough labelled history (needs {ENOUGH.train_rows} training members with "
            f"{ENOUGH.train_positives} cancellations and {ENOUGH.test_positives} in the test)"
        )
        return report
    scope = f"gym-{gym_id}" if gym_id else "global"
    version = f"trained-{scope}-{now.strftime('%Y%m%dT%H%M%SZ')}"
    model = fit(train_signals, train_labels, version)
    report["version"] = version
    report["metrics"] = evaluate(test_labels, model_risk(model, test_signals))
    report["default_model_metrics"] = evaluate(test_labels, model_risk(DEFAULT_MODEL, test_signals))
    report["parameters"] = model.parameters()
    await save_model(
        conn, model, gym_id=gym_id, metrics=report["metrics"], trained_at=now, active=activate
    )
    report["saved"] = True
    report["active"] = activate
    return report
