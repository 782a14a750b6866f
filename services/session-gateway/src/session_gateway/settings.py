"""session-gateway settings, read from `JARVIS_GATEWAY_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from jarvis_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JARVIS_GATEWAY_", extra="ignore")

    port: int = 8001
    # How long a session whose kiosk dropped waits for that kiosk to resume it (session.resume).
    resume_window_s: float = 30.0
    # Messages of one session kept for replay on resume (older ones cannot be replayed).
    replay_buffer: int = 2000
