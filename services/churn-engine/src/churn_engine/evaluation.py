"""How good a model is on labelled members: ranking, precision where staff look, calibration."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

TOP_SHARE = 0.2
CALIBRATION_BINS = 10


def evaluate(labels: np.ndarray, risk: np.ndarray) -> dict[str, Any]:
    """ROC AUC, PR AUC, precision in the riskiest 20 %, Brier score and a reliability table."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(risk, dtype=np.float64)
    report: dict[str, Any] = {
        "members": len(y),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else None,
    }
    if len(y) == 0 or y.min() == y.max():
        report["error"] = "both classes are needed (members who cancelled and who stayed)"
        return report
    order = np.argsort(-p, kind="stable")
    top = order[: max(1, round(len(p) * TOP_SHARE))]
    report.update(
        roc_auc=float(roc_auc_score(y, p)),
        pr_auc=float(average_precision_score(y, p)),
        precision_at_top_20pct=float(y[top].mean()),
        brier=float(brier_score_loss(y, p)),
        calibration=_reliability(y, p),
    )
    return report


def _reliability(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    """Bins of equal size by predicted risk: mean predicted against observed rate."""
    order = np.argsort(p, kind="stable")
    bins = []
    for part in np.array_split(order, min(CALIBRATION_BINS, len(order))):
        if len(part):
            bins.append(
                {
                    "members": len(part),
                    "predicted": round(float(p[part].mean()), 4),
                    "observed": round(float(y[part].mean()), 4),
                }
            )
    return bins
