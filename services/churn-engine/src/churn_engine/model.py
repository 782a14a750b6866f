"""The churn model: a logistic regression on standardized features, and the documented default.

risk = sigmoid(intercept + sum_i coefficient_i * z_i), z_i = clip((x_i - mean_i) / scale_i, -4, 4)

Each term `coefficient_i * z_i` is feature i's contribution to the log-odds against a typical
member, which is what makes a score explainable: the reasons are the largest positive terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from churn_engine.signals import FEATURES

Z_LIMIT = 4.0


@dataclass(frozen=True)
class LogisticModel:
    version: str
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float

    def standardize(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.means)) / np.asarray(self.scales)
        return np.clip(z, -Z_LIMIT, Z_LIMIT)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        return self.standardize(x) * np.asarray(self.coefficients)

    def risk(self, contributions: np.ndarray) -> np.ndarray:
        logit = self.intercept + contributions.sum(axis=1)
        return 1.0 / (1.0 + np.exp(-logit))

    def parameters(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "means": list(self.means),
            "scales": list(self.scales),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
        }

    @classmethod
    def from_parameters(cls, version: str, parameters: dict[str, Any]) -> LogisticModel:
        if tuple(parameters["features"]) != FEATURES:
            raise ValueError(f"model {version} was trained on other features")
        return cls(
            version=version,
            means=tuple(parameters["means"]),
            scales=tuple(parameters["scales"]),
            coefficients=tuple(parameters["coefficients"]),
            intercept=float(parameters["intercept"]),
        )


# The documented default (docs/churn.md §Model): hand-set from what gyms report about members who
# leave. Means and scales describe a typical member; a coefficient is the change in log-odds for
# one scale above the mean. The intercept puts a typical member at about 6 %.
_DEFAULT = {
    # feature: (mean, scale, coefficient)
    "recency": (5.0, 7.0, 0.9),  # days since the last visit
    "visit_trend": (0.0, 0.4, -0.7),  # visits now against the member's own baseline
    "visits_per_week": (2.0, 1.2, -0.4),
    "tenure_years": (1.5, 1.2, -0.3),
    "contract_ending": (0.1, 0.3, 0.5),  # 0 = 60+ days left, 1 = ends today or has ended
    "no_commitment": (0.5, 0.5, 0.3),
    "group_share": (0.2, 0.25, -0.3),
    "sentiment": (0.1, 0.4, -0.3),
    "negative_conversations": (0.1, 0.4, 0.35),
    "intent_to_cancel": (0.02, 0.15, 0.8),
    "complaints": (0.05, 0.3, 0.4),
}

DEFAULT_MODEL = LogisticModel(
    version="default-1",
    means=tuple(_DEFAULT[f][0] for f in FEATURES),
    scales=tuple(_DEFAULT[f][1] for f in FEATURES),
    coefficients=tuple(_DEFAULT[f][2] for f in FEATURES),
    intercept=-2.75,
)
