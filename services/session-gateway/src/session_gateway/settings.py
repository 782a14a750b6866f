"""session-gateway settings, read from `JARVIS_GATEWAY_*` environment variables."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from jarvis_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="JARVIS_GATEWAY_", extra="ignore", populate_by_name=True
    )

    port: int = 8001
    # How long a session whose kiosk dropped waits for that kiosk to resume it (session.resume).
    resume_window_s: float = 30.0
    # Session messages kept for replay on resume: at most this many, and at most this many bytes
    # (audio is most of it: 4 MiB holds about a minute of assistant speech).
    replay_buffer: int = 5000
    replay_buffer_bytes: int = 4 * 1024 * 1024
    # How long a kiosk looked up at connect time is trusted (a revocation reaches new
    # connections within this; sessions always check afresh).
    kiosk_cache_ttl_s: float = 10.0

    # OpenAI Realtime. Without a key the offline assistant answers (text only).
    openai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("JARVIS_GATEWAY_OPENAI_API_KEY", "OPENAI_API_KEY"),
    )
    openai_base_url: str | None = None  # e.g. http://127.0.0.1:9999/v1 (tests, proxies)
    openai_ws_base_url: str | None = None  # e.g. ws://127.0.0.1:9999/v1
    transcription_model: str = "gpt-4o-mini-transcribe"
    # A dropped upstream connection is reopened (and the conversation replayed) within this long,
    # or the session ends `upstream_fatal`.
    upstream_reconnect_deadline_s: float = 5.0
    # The provider closes a Realtime session after 60 minutes; the gateway moves the conversation
    # to a fresh upstream session before that, at a moment when no response is in flight.
    upstream_rotate_after_s: float = 55 * 60.0
    # How long an ending session waits for transcripts still due, and for the spoken wrap-up.
    end_grace_s: float = 2.0
    wrap_up_timeout_s: float = 10.0

    # Crash recovery: every gateway process refreshes its lease this often; sessions of a process
    # whose lease is older than `instance_lease_s` are closed (`gateway_lost`) by another one.
    instance_heartbeat_s: float = 10.0
    instance_lease_s: float = 60.0

    @property
    def realtime_enabled(self) -> bool:
        return bool(self.openai_api_key)
