"""scheduler settings, read from `JARVIS_SCHEDULER_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from jarvis_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JARVIS_SCHEDULER_", extra="ignore")

    port: int = 8005
