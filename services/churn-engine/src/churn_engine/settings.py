"""churn-engine settings, read from `JARVIS_CHURN_ENGINE_*` environment variables."""

from __future__ import annotations

from datetime import time

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from churn_engine.alerts import AlertRules
from jarvis_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JARVIS_CHURN_ENGINE_", extra="ignore")

    port: int = 8003
    # The scheduler's job names this service acts on.
    risk_job: str = "churn_risk"
    alerts_job: str = "churn_alerts"
    # The `churn_risk` schedule's local time of day: an alert tick that finds no scores for its
    # day scores as of that day's risk slot, as the scoring tick would have.
    risk_time: time = time(2, 0)
    # Default band thresholds; a gym may have its own (PUT /api/v1/gyms/{gym_id}/thresholds).
    amber_threshold: float = Field(default=0.3, gt=0, lt=1)
    red_threshold: float = Field(default=0.6, gt=0, lt=1)
    # Alerts
    alert_bands: tuple[str, ...] = ("red",)
    alert_cooldown_days: int = Field(default=30, ge=1)
    min_alerts_per_gym: int = Field(default=5, ge=0)
    alert_share_per_gym: float = Field(default=0.05, ge=0, le=1)
    alert_expiry_days: int = Field(default=30, ge=1)
    # Daily scores are kept this long (trends), then deleted by the scoring run.
    score_retention_days: int = Field(default=400, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Settings:
        if self.amber_threshold >= self.red_threshold:
            raise ValueError("amber_threshold must be below red_threshold")
        if not set(self.alert_bands) <= {"amber", "red"}:
            raise ValueError("alert_bands may only hold amber and red")
        return self

    def alert_rules(self) -> AlertRules:
        return AlertRules(
            bands=self.alert_bands,
            cooldown_days=self.alert_cooldown_days,
            min_per_gym=self.min_alerts_per_gym,
            share_per_gym=self.alert_share_per_gym,
            expiry_days=self.alert_expiry_days,
        )
