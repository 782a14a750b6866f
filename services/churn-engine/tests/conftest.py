"""churn-engine fixtures; they live in churn_world so tests can import its helpers."""

from churn_world import api, churn, churn_settings, engine

__all__ = ["api", "churn", "churn_settings", "engine"]
