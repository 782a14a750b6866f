"""The envelope and the catalogue, without a database or a broker."""

from __future__ import annotations

import json
import re
import types
import typing
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from jarvis_common.errors import PermanentError
from jarvis_common.events import CATALOGUE, EventData, UnknownEvent, decode_event, new_event
from jarvis_common.events.catalogue import SessionClosed, TokenUsage, TranscriptItem

MODELS = [CATALOGUE[key] for key in sorted(CATALOGUE)]
by_name = pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)

T0 = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)

# The partition key of each event, stated independently of the catalogue (DESIGN.md: session
# id, kiosk id, member id, ...). A new event must be added here on purpose.
EXPECTED_SUBJECT = {
    ("session.started", 1): "session_id",
    ("session.closed", 1): "session_id",
    ("kiosk.heartbeat", 1): "kiosk_id",
    ("kiosk.provisioned", 1): "kiosk_id",
    ("kiosk.config_changed", 1): "kiosk_id",
    ("kiosk.revoked", 1): "kiosk_id",
    ("kiosk.status_changed", 1): "kiosk_id",
    ("member.upserted", 1): "member_id",
    ("member.checked_in", 1): "member_id",
    ("member.churn_snoozed", 1): "member_id",
    ("gym.upserted", 1): "gym_id",
    ("summary.created", 1): "session_id",
    ("churn.alert.raised", 1): "member_id",
    ("churn.alert.resolved", 1): "member_id",
    ("report.generated", 1): "report_id",
    ("schedule.tick", 1): "job",
}

# Class names state what happened. The rule is the last word ends in "ed"; a phrasal verb
# ("checked in") is the one kind of exception, listed by name.
PAST_TENSE_EXCEPTIONS = {"MemberCheckedIn"}

# Values for constrained strings a generic sample cannot guess.
STRING_SAMPLES = {"iso_week": "2025-W11"}


def sample_value(annotation: Any, name: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        return sample_value(
            next(a for a in typing.get_args(annotation) if a is not type(None)), name
        )
    if origin in (tuple, list):
        return ()
    if origin is dict:
        return {}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return minimal(annotation)
        # Every id is fresh, so a subject taken from the wrong field cannot match by chance.
        simple = {
            uuid.UUID: uuid.uuid4,
            datetime: lambda: T0,
            date: lambda: T0.date(),
            bool: lambda: True,
            int: lambda: 1,
            float: lambda: 0.5,
            Decimal: lambda: Decimal("0.25"),
            str: lambda: STRING_SAMPLES.get(name, f"{name}-sample"),
        }
        if annotation in simple:
            return simple[annotation]()
    raise TypeError(f"no sample for {name}: {annotation!r}; extend sample_value")


def minimal(model: type[BaseModel]) -> Any:
    """An instance with only the required fields set."""
    return model(
        **{
            name: sample_value(field.annotation, name)
            for name, field in model.model_fields.items()
            if field.is_required()
        }
    )


def closed_session() -> SessionClosed:
    return SessionClosed(
        session_id=uuid.uuid4(),
        kiosk_id=uuid.uuid4(),
        gym_id=uuid.uuid4(),
        franchise_id=uuid.uuid4(),
        member_id=None,
        started_at=T0,
        ended_at=datetime(2025, 3, 10, 8, 34, 12, 500_000, tzinfo=UTC),
        end_reason="idle_timeout",
        language="fr",
        model="gpt-4o-mini-realtime-preview-2024-12-17",
        transcript=(
            TranscriptItem(
                item_id="i1", role="user", text="Bonjour, à quelle heure ouvrez-vous ?", at=T0
            ),
            TranscriptItem(item_id="i2", role="assistant", text="Dès 6 h 🙂"),
        ),
        usage=TokenUsage(text_input=12, audio_output=340),
        cost_usd=Decimal("0.012345678901234567890123"),
        price_table_version="2025-01",
    )


def wire(data: EventData | None = None) -> dict[str, Any]:
    event = new_event(data or closed_session(), source="session-gateway", trace_id="t-1")
    return json.loads(event.to_json())


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


# --- round trip -----------------------------------------------------------------------------


def test_round_trip_keeps_every_field() -> None:
    data = closed_session()
    gym, franchise = uuid.uuid4(), uuid.uuid4()
    event = new_event(
        data,
        source="session-gateway",
        gym_id=gym,
        franchise_id=franchise,
        trace_id="trace-42",
        time=T0,
    )

    decoded = decode_event(event.to_json())

    assert decoded == event
    assert type(decoded.data) is SessionClosed
    assert decoded.data == data
    assert (decoded.type, decoded.version, decoded.source) == (
        "session.closed",
        1,
        "session-gateway",
    )
    assert (decoded.gym_id, decoded.franchise_id, decoded.trace_id) == (gym, franchise, "trace-42")
    assert decoded.time == T0
    assert decoded.data.transcript[0].text == "Bonjour, à quelle heure ouvrez-vous ?"


def test_decode_accepts_text_as_well_as_bytes() -> None:
    event = new_event(closed_session(), source="session-gateway")
    assert decode_event(event.to_json().decode()) == event


def test_wire_format_is_the_documented_envelope() -> None:
    payload = wire()
    assert list(payload) == [
        "id",
        "type",
        "version",
        "source",
        "time",
        "gym_id",
        "franchise_id",
        "subject",
        "trace_id",
        "data",
    ]
    assert payload["type"] == "session.closed"
    assert payload["version"] == 1
    assert uuid.UUID(payload["id"])
    assert payload["gym_id"] is None and payload["franchise_id"] is None


def test_each_event_gets_a_fresh_id_and_defaults_its_trace_to_it() -> None:
    data = closed_session()
    first, second = new_event(data, source="s"), new_event(data, source="s")
    assert first.id != second.id
    assert first.trace_id == first.id.hex


def test_time_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    event = new_event(closed_session(), source="s")
    assert event.time.utcoffset() is not None and event.time.utcoffset().total_seconds() == 0
    assert before <= event.time <= datetime.now(UTC)
    assert json.loads(event.to_json())["time"].endswith("Z")


def test_decimal_cost_is_a_json_string_and_round_trips_exactly() -> None:
    cost = Decimal("0.012345678901234567890123")
    payload = wire()
    assert payload["data"]["cost_usd"] == str(cost)  # a string, never a float

    decoded = decode_event(encode(payload))
    assert decoded.data.cost_usd == cost
    assert str(decoded.data.cost_usd) == str(cost)  # same digits, same exponent


# --- tolerance and refusal ------------------------------------------------------------------


def test_unknown_envelope_and_data_fields_are_ignored() -> None:
    payload = wire()
    expected = decode_event(encode(payload))
    payload["partition_hint"] = 3
    payload["data"]["mood"] = "cheerful"
    payload["data"]["usage"]["video_input"] = 9
    payload["data"]["transcript"][0]["emotion"] = "calm"

    assert decode_event(encode(payload)) == expected


@pytest.mark.parametrize(
    "field", ["id", "type", "version", "source", "time", "subject", "trace_id", "data"]
)
def test_missing_required_envelope_field_is_unknown(field: str) -> None:
    payload = wire()
    del payload[field]
    with pytest.raises(UnknownEvent):
        decode_event(encode(payload))


@pytest.mark.parametrize("field", ["session_id", "ended_at", "end_reason"])
def test_missing_required_data_field_is_unknown(field: str) -> None:
    payload = wire()
    del payload["data"][field]
    with pytest.raises(UnknownEvent):
        decode_event(encode(payload))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", "session.exploded"),
        ("type", "session_closed"),
        ("version", 99),
        ("version", 0),
        ("data", "not an object"),
        ("id", "not-a-uuid"),
    ],
)
def test_unknown_type_version_or_shape_is_unknown(field: str, value: Any) -> None:
    payload = wire()
    payload[field] = value
    with pytest.raises(UnknownEvent):
        decode_event(encode(payload))


def test_data_violating_its_model_is_unknown() -> None:
    payload = wire()
    payload["data"]["end_reason"] = "bored"
    with pytest.raises(UnknownEvent):
        decode_event(encode(payload))


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"{", b"\xff\xfe\x00", b"[]", b"null", b"42", b'"session.closed"', "{}"],
)
def test_not_an_event_is_unknown(raw: bytes | str) -> None:
    with pytest.raises(UnknownEvent):
        decode_event(raw)


def test_unknown_event_is_permanent() -> None:
    # The consumer sends permanent failures straight to the DLQ instead of retrying them.
    assert issubclass(UnknownEvent, PermanentError)


# --- the catalogue --------------------------------------------------------------------------


def test_every_catalogue_entry_has_a_stated_subject() -> None:
    assert set(EXPECTED_SUBJECT) == set(CATALOGUE)


@by_name
def test_subject_is_the_declared_id(model: type[EventData]) -> None:
    key = (model.event_type, model.event_version)
    field = EXPECTED_SUBJECT[key]
    assert model.subject_field == field
    assert model.model_fields[field].is_required(), "a partition key cannot be optional"

    data = minimal(model)
    event = new_event(data, source="test")
    assert event.subject == str(getattr(data, field))

    decoded = decode_event(event.to_json())
    assert type(decoded.data) is model
    assert decoded.subject == event.subject
    assert decoded.data.subject() == event.subject


@by_name
def test_catalogue_key_matches_the_model(model: type[EventData]) -> None:
    assert CATALOGUE[(model.event_type, model.event_version)] is model
    assert isinstance(model.event_version, int) and model.event_version >= 1


@by_name
def test_type_name_is_dotted_lowercase(model: type[EventData]) -> None:
    assert re.fullmatch(r"[a-z]+(\.[a-z_]+)+", model.event_type), model.event_type


@by_name
def test_class_name_is_past_tense(model: type[EventData]) -> None:
    name = model.__name__
    last_word = re.findall(r"[A-Z][a-z]*", name)[-1]
    assert last_word.endswith("ed") or name in PAST_TENSE_EXCEPTIONS, (
        f"{name}: events say what happened; name it in the past tense"
    )


def test_class_names_are_unique() -> None:
    names = [model.__name__ for model in MODELS]
    assert len(names) == len(set(names))


@by_name
def test_models_ignore_unknown_fields_and_are_frozen(model: type[EventData]) -> None:
    assert model.model_config.get("extra") == "ignore"
    assert model.model_config.get("frozen") is True
