"""The catalogue of every event the platform publishes, version 1.

Topic = event type. Each data model names its type, its version and the field that is its
subject (the partition key). A published version is never edited in a breaking way: a new
version is a new class registered beside the old one. Optional fields may be added.

Events are named in the past tense: they state what happened.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    event_version: ClassVar[int]
    subject_field: ClassVar[str]

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


CATALOGUE: dict[tuple[str, int], type[EventData]] = {}


def _register(cls: type[EventData]) -> type[EventData]:
    key = (cls.event_type, cls.event_version)
    if key in CATALOGUE:
        raise RuntimeError(f"event {key} registered twice")
    CATALOGUE[key] = cls
    return cls


def data_model_for(event_type: str, version: int) -> type[EventData]:
    return CATALOGUE[(event_type, version)]


def topics() -> list[str]:
    return sorted({event_type for event_type, _ in CATALOGUE})


# --- shared value objects -------------------------------------------------------------------


class KioskConfig(BaseModel):
    """What the gateway needs to run a kiosk's conversations without calling the registry."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    voice_model: str = "alloy"
    openai_model: str = "gpt-4o-mini-realtime-preview-2024-12-17"
    location_in_gym: str | None = None
    persona: str | None = None
    language: str = "fr"
    gym_name: str | None = None
    gym_info: dict[str, Any] = Field(default_factory=dict)
    idle_timeout_s: int = 60
    max_duration_s: int = 900
    max_concurrent_sessions: int = 2
    session_budget_usd: Decimal = Decimal("1.00")


class TranscriptItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    item_id: str
    role: Literal["user", "assistant", "system"]
    text: str
    transcription_failed: bool = False
    at: datetime | None = None


class TokenUsage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    text_input: int = 0
    text_output: int = 0
    audio_input: int = 0
    audio_output: int = 0
    cached_input: int = 0
    transcription_input: int = 0
    transcription_output: int = 0


class ChurnSignal(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["intent_to_cancel", "complaint", "price_concern"]
    evidence: str


class RiskReason(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    value: float | str | None = None


# --- session-gateway ------------------------------------------------------------------------


@_register
class SessionStarted(EventData):
    event_type = "session.started"
    event_version = 1
    subject_field = "session_id"

    session_id: uuid.UUID
    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    member_id: uuid.UUID | None = None
    started_at: datetime
    model: str | None = None
    voice: str | None = None


SessionEndReason = Literal[
    "kiosk_ended",
    "idle_timeout",
    "max_duration",
    "kiosk_gone",
    "upstream_fatal",
    "budget_exceeded",
    "gateway_shutdown",
    # the gateway process that ran it died; closed by another replica from its last checkpoint
    "gateway_lost",
]


@_register
class SessionClosed(EventData):
    event_type = "session.closed"
    event_version = 1
    subject_field = "session_id"

    session_id: uuid.UUID
    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    franchise_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    started_at: datetime
    ended_at: datetime
    end_reason: SessionEndReason
    language: str | None = None
    model: str | None = None
    transcript: tuple[TranscriptItem, ...] = ()
    usage: TokenUsage = TokenUsage()
    cost_usd: Decimal = Decimal("0")
    price_table_version: str | None = None


@_register
class KioskHeartbeatReceived(EventData):
    event_type = "kiosk.heartbeat"
    event_version = 1
    subject_field = "kiosk_id"

    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    sent_at: datetime
    received_at: datetime
    status: Literal["ok", "degraded", "error"] = "ok"
    hardware_info: dict[str, Any] = Field(default_factory=dict)
    last_error: str | None = None


# --- kiosk-registry -------------------------------------------------------------------------


@_register
class KioskProvisioned(EventData):
    event_type = "kiosk.provisioned"
    event_version = 1
    subject_field = "kiosk_id"

    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    slug: str
    name: str
    device_id: str | None = None
    config_version: int = 1
    config: KioskConfig = KioskConfig()


@_register
class KioskConfigChanged(EventData):
    event_type = "kiosk.config_changed"
    event_version = 1
    subject_field = "kiosk_id"

    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    config_version: int
    config: KioskConfig


@_register
class KioskRevoked(EventData):
    event_type = "kiosk.revoked"
    event_version = 1
    subject_field = "kiosk_id"

    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    revoked_at: datetime
    reason: str | None = None


KioskStatus = Literal["provisioning", "online", "offline", "error"]


@_register
class KioskStatusChanged(EventData):
    event_type = "kiosk.status_changed"
    event_version = 1
    subject_field = "kiosk_id"

    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    status: KioskStatus
    previous_status: KioskStatus | None = None
    changed_at: datetime
    last_heartbeat: datetime | None = None


@_register
class GymUpserted(EventData):
    """A gym's current state, with who receives its reports: published when the gym changes and
    when one of its managers, or an owner of its franchise, is added, changed or deactivated."""

    event_type = "gym.upserted"
    event_version = 1
    subject_field = "gym_id"

    gym_id: uuid.UUID
    franchise_id: uuid.UUID | None = None
    franchise_name: str | None = None
    name: str
    timezone: str = "Europe/Paris"
    language: str = "fr"
    # e-mail addresses of the gym's active managers, and of its franchise's active owners
    manager_emails: tuple[str, ...] = ()
    franchise_owner_emails: tuple[str, ...] = ()
    updated_at: datetime


@_register
class MemberUpserted(EventData):
    event_type = "member.upserted"
    event_version = 1
    subject_field = "member_id"

    member_id: uuid.UUID
    gym_id: uuid.UUID
    first_name: str | None = None
    language: str = "fr"
    status: Literal["active", "frozen", "cancelled"] = "active"
    contract_type: str | None = None
    joined_at: date | None = None
    contract_ends_at: date | None = None
    cancelled_at: date | None = None
    updated_at: datetime


@_register
class MemberCheckedIn(EventData):
    event_type = "member.checked_in"
    event_version = 1
    subject_field = "member_id"

    member_id: uuid.UUID
    gym_id: uuid.UUID
    checked_in_at: datetime
    group_class: str | None = None


# --- summarizer -----------------------------------------------------------------------------


@_register
class SummaryCreated(EventData):
    event_type = "summary.created"
    event_version = 1
    subject_field = "session_id"

    session_id: uuid.UUID
    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    member_id: uuid.UUID | None = None
    summary: str
    language: str | None = None
    sentiment_label: Literal["positive", "neutral", "negative"] = "neutral"
    sentiment_score: float = Field(default=0.0, ge=-1, le=1)
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    follow_ups: tuple[str, ...] = ()
    churn_signals: tuple[ChurnSignal, ...] = ()
    member_satisfied: bool | None = None
    model: str | None = None
    cost_usd: Decimal = Decimal("0")
    session_ended_at: datetime | None = None


# --- churn-engine ---------------------------------------------------------------------------


@_register
class MemberChurnSnoozed(EventData):
    """Gym staff asked that a member raise no churn alert until `until` (inclusive); the open
    alert, if any, is resolved as snoozed."""

    event_type = "member.churn_snoozed"
    event_version = 1
    subject_field = "member_id"

    member_id: uuid.UUID
    gym_id: uuid.UUID
    until: date
    snoozed_by: uuid.UUID | None = None
    snoozed_at: datetime


@_register
class ChurnAlertRaised(EventData):
    event_type = "churn.alert.raised"
    event_version = 1
    subject_field = "member_id"

    alert_id: uuid.UUID
    member_id: uuid.UUID
    gym_id: uuid.UUID
    risk: float = Field(ge=0, le=1)
    band: Literal["green", "amber", "red"]
    reasons: tuple[RiskReason, ...] = ()
    model_version: str
    raised_at: datetime


@_register
class ChurnAlertResolved(EventData):
    event_type = "churn.alert.resolved"
    event_version = 1
    subject_field = "member_id"

    alert_id: uuid.UUID
    member_id: uuid.UUID
    gym_id: uuid.UUID
    resolution: Literal["checked_in", "snoozed", "expired", "manual"]
    resolved_at: datetime


# --- reporter -------------------------------------------------------------------------------


@_register
class ReportGenerated(EventData):
    event_type = "report.generated"
    event_version = 1
    subject_field = "report_id"

    report_id: uuid.UUID
    scope: Literal["gym", "franchise"]
    gym_id: uuid.UUID | None = None
    franchise_id: uuid.UUID | None = None
    iso_week: str = Field(pattern=r"^\d{4}-W\d{2}$")
    week_start: date
    language: str = "fr"
    generated_at: datetime
    headline: dict[str, float] = Field(default_factory=dict)


# --- scheduler ------------------------------------------------------------------------------


@_register
class ScheduleTicked(EventData):
    event_type = "schedule.tick"
    event_version = 1
    # Keyed by job so the ticks of one job stay in slot order on one partition.
    subject_field = "job"

    tick_id: str
    job: str
    slot: datetime
    timezone: str
    late: bool = False
