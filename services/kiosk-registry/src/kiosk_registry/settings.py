"""kiosk-registry settings, read from `JARVIS_REGISTRY_*` environment variables."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jarvis_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JARVIS_REGISTRY_", extra="ignore")

    port: int = 8000
    # Ed25519 private key (PEM) that signs user and kiosk tokens. Without one, development
    # signs with a key made at start-up (tokens die with the process); production refuses.
    signing_key: str | None = None
    user_token_ttl_s: int = Field(default=3600, gt=0)
    kiosk_token_ttl_s: int = Field(default=900, gt=0)
    provisioning_code_ttl_h: float = Field(default=24, gt=0)
    # After a rotation the previous kiosk credential keeps working this long.
    credential_grace_s: int = Field(default=3600, ge=0)
    # A kiosk is online while its last heartbeat is within multiple * interval + buffer.
    heartbeat_interval_s: float = Field(default=30, gt=0)
    online_multiple: float = Field(default=3, gt=0)
    online_buffer_s: float = Field(default=10, ge=0)
    # Offline for longer than this raises one alert.
    offline_alert_after_s: float = Field(default=300, ge=0)
    status_sweep_interval_s: float = Field(default=5, gt=0)
    # Argon2id cost of stored passwords: argon2-cffi's defaults (RFC 9106's low-memory profile,
    # ~0.1 s of CPU each). Lower them only where nothing real is protected: the test suite does.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
    # The first super admin, created at start-up when there is none.
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: str | None = None
