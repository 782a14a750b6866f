"""scheduler settings, read from `JARVIS_SCHEDULER_*` environment variables.

`JARVIS_SCHEDULER_SCHEDULES` is the whole table of schedules, as JSON, e.g.
`{"churn_risk": {"cron": "0 2 * * *", "timezone": "Europe/Paris", "catch_up_hours": 36}}`;
a schedule without `timezone` uses the platform's (`JARVIS_TIMEZONE`), one without
`catch_up_hours` gets a window derived from its cadence (see `schedules.py`).
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import SettingsConfigDict

from jarvis_common.settings import ServiceSettings

JOB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str = Field(max_length=200)
    timezone: str | None = None
    catch_up_hours: float | None = Field(default=None, gt=0)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        # Five fields only: croniter's optional seconds field would make slots a second apart.
        if len(cron.split()) != 5 or not croniter.is_valid(cron):
            raise ValueError(f"{cron!r} is not a five-field cron expression")
        return cron

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, timezone: str | None) -> str | None:
        if timezone is not None:
            _zone(timezone)
        return timezone


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone") from exc


DEFAULT_SCHEDULES = {
    "churn_risk": ScheduleConfig(cron="0 2 * * *"),
    "churn_alerts": ScheduleConfig(cron="0 3 * * *"),
    "weekly_report": ScheduleConfig(cron="0 8 * * 1"),
}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JARVIS_SCHEDULER_", extra="ignore")

    port: int = 8005
    schedules: dict[str, ScheduleConfig] = Field(default_factory=lambda: dict(DEFAULT_SCHEDULES))
    # A tick published more than this after its slot is marked late.
    late_after_s: float = Field(default=60, ge=0)
    # After a failed round (database unreachable...), the loop tries again this much later.
    retry_interval_s: float = Field(default=5, gt=0)

    @field_validator("schedules")
    @classmethod
    def _valid_job_names(cls, schedules: dict[str, ScheduleConfig]) -> dict[str, ScheduleConfig]:
        for job in schedules:
            if not JOB_NAME.match(job):
                raise ValueError(
                    f"job name {job!r} must be lowercase letters, digits and _ (at most 64)"
                )
        return schedules
