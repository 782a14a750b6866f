"""Settings read from the environment and validated at start-up.

Platform-wide settings use the `JARVIS_` prefix; each service adds its own
settings class with a `JARVIS_<SERVICE>_` prefix.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JARVIS_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/jarvis"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    environment: str = "development"
    log_level: str = "INFO"
    log_json: bool = True
    timezone: str = "Europe/Paris"
    migrate_on_start: bool = True
    # Bearer token for operator-only endpoints that predate user accounts.
    admin_token: str | None = None
    # Ed25519 public key (PEM) that verifies registry-signed user and kiosk tokens offline.
    token_public_key: str | None = None

    # Messaging: how long published outbox rows and processed event ids are kept. The embedded
    # broker forgets everything on restart, so the dev runner republishes what is still retained.
    outbox_retention_hours: float = Field(default=168, gt=0)
    outbox_batch_size: int = Field(default=1000, gt=0, le=10_000)
    # Events this process commits wake its relay at once; the poll picks up rows committed by
    # other replicas (one replica per service relays), so it can be slow and cheap.
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)
    consumer_batch_size: int = Field(default=500, gt=0, le=10_000)
    # Retried events are handled one at a time, each possibly slow (a model call that timed out
    # the first time): small batches keep a batch well inside the poll interval.
    retry_batch_size: int = Field(default=20, gt=0, le=10_000)
    # The longest a batch may take before the broker gives its partitions to another member
    # (a daily scoring run over a million members takes about a minute).
    consumer_max_poll_interval_ms: int = Field(default=900_000, ge=10_000)
    # A new consumer group forms after about half this; heartbeats run beside the handlers, so
    # a long handler does not expire it.
    consumer_session_timeout_ms: int = Field(default=10_000, ge=1000)
    retry_max_attempts: int = Field(default=5, ge=1, le=50)
    retry_initial_delay_s: float = Field(default=1.0, ge=0)
    retry_max_delay_s: float = Field(default=300.0, ge=0)
    shutdown_grace_s: float = Field(default=20.0, gt=0)
    # Young-generation threshold of the garbage collector; unset, the service's own default
    # (ServiceDefinition.gc_threshold).
    gc_threshold: int | None = Field(default=None, ge=700)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        # Accept the URL operators usually have at hand and pick the async driver ourselves.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        if not url.startswith("postgresql+asyncpg://"):
            raise ValueError("JARVIS_DATABASE_URL must be a postgresql:// URL")
        return url


class ServiceSettings(BaseSettings):
    """Base for a service's own settings; subclasses set `env_prefix="JARVIS_<SERVICE>_"`."""

    model_config = SettingsConfigDict(extra="ignore")

    port: int = Field(default=8000, gt=0, lt=65536)
    host: str = "0.0.0.0"


def plain_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for asyncpg and command-line tools."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
