"""reporter settings, read from `JARVIS_REPORTER_*` environment variables."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jarvis_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JARVIS_REPORTER_", extra="ignore")

    port: int = 8004
    # The scheduler job whose ticks start a weekly run.
    weekly_job: str = "weekly_report"

    # SMTP. Without a host, reports are generated and stored and deliveries recorded `skipped`.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_from: str = "JARVIS <reports@jarvis.local>"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    # Franchise owners always get the franchise roll-up; this also sends them each gym's report.
    gym_reports_to_franchise_owners: bool = False

    # The background worker that turns jobs into reports and deliveries.
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    worker_poll_interval_s: float = Field(default=1.0, gt=0)
    # How long a claimed job is reserved for one worker before another may take it over.
    # Processes that render PDFs, charts and e-mails; 0 renders in the service's own process.
    render_processes: int = Field(default=2, ge=0, le=32)
    job_lease_s: float = Field(default=300.0, gt=0)
    job_max_attempts: int = Field(default=8, ge=1)
    job_retry_delay_s: float = Field(default=30.0, ge=0)
    # How many members at risk and follow-ups a report lists (the counts are always complete).
    list_limit: int = Field(default=25, ge=1, le=500)
