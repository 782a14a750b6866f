"""summarizer settings, read from `JARVIS_SUMMARIZER_*` environment variables."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from jarvis_common.settings import ServiceSettings


class ModelPrice(BaseModel):
    """USD per million tokens."""

    input: Decimal
    cached_input: Decimal
    output: Decimal


# OpenAI's list prices (USD per 1M tokens) for the models a summary is likely to use; override
# with JARVIS_SUMMARIZER_PRICES='{"my-model": {"input": 1, "cached_input": 0.1, "output": 4}}'.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    name: ModelPrice(input=Decimal(i), cached_input=Decimal(c), output=Decimal(o))
    for name, (i, c, o) in {
        "gpt-4.1": ("2.00", "0.50", "8.00"),
        "gpt-4.1-mini": ("0.40", "0.10", "1.60"),
        "gpt-4.1-nano": ("0.10", "0.025", "0.40"),
        "gpt-4o": ("2.50", "1.25", "10.00"),
        "gpt-4o-mini": ("0.15", "0.075", "0.60"),
        "gpt-5": ("1.25", "0.125", "10.00"),
        "gpt-5-mini": ("0.25", "0.025", "2.00"),
        "gpt-5-nano": ("0.05", "0.005", "0.40"),
    }.items()
}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="JARVIS_SUMMARIZER_", extra="ignore", populate_by_name=True
    )

    port: int = 8002
    # "auto": the OpenAI provider when an API key is configured, else the offline one.
    provider: Literal["auto", "openai", "offline"] = "auto"
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("JARVIS_SUMMARIZER_OPENAI_API_KEY", "OPENAI_API_KEY"),
    )
    openai_base_url: str | None = None
    model: str = "gpt-4.1-mini"
    # Model calls in flight at once, over all the sessions being summarised. Size it to the
    # account's rate limit: calls at once ~ requests per minute x seconds per call / 60.
    max_concurrent_calls: int = Field(default=256, ge=1, le=2000)
    openai_timeout_s: float = Field(default=60.0, gt=0)
    # The SDK's own retries hold the whole consumed batch back; the platform's retry topics
    # back off without doing that, so by default every retry goes through them.
    openai_max_retries: int = Field(default=0, ge=0, le=5)
    max_output_tokens: int = Field(default=1500, ge=200, le=32_000)
    # Transcripts longer than this (characters) keep their beginning and end; see transcript.py.
    max_transcript_chars: int = Field(default=48_000, ge=2_000, le=1_000_000)
    # The summary's language when session.closed does not say the gym's language.
    default_language: Literal["fr", "en"] = "fr"
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    @property
    def uses_openai(self) -> bool:
        if self.provider == "auto":
            return self.openai_api_key is not None
        return self.provider == "openai"
