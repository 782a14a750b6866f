"""reporter settings, read from `JARVIS_REPORTER_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from jarvis_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JARVIS_REPORTER_", extra="ignore")

    port: int = 8004
