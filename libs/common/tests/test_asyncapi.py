"""The committed AsyncAPI contract is what the catalogue generates now, and covers every topic."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from jarvis_common import asyncapi
from jarvis_common.events import CATALOGUE, topics

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "asyncapi" / asyncapi.OUTPUT_NAME
SERVICE_PACKAGES = (
    "kiosk_registry",
    "session_gateway",
    "summarizer",
    "churn_engine",
    "reporter",
    "scheduler",
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(COMMITTED.read_text(encoding="utf-8"))


def resolve(document: dict[str, Any], reference: str) -> dict[str, Any]:
    node: Any = document
    for part in unquote(reference).removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_committed_contract_is_what_the_catalogue_generates() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == asyncapi.render(), (
        f"{COMMITTED.relative_to(ROOT)} is stale: run `make asyncapi` and commit the result"
    )


def test_rendering_is_deterministic() -> None:
    assert asyncapi.render() == asyncapi.render()


def test_main_writes_the_contract(tmp_path: Path) -> None:
    assert asyncapi.main([str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / asyncapi.OUTPUT_NAME).read_text(encoding="utf-8") == (
        asyncapi.render()
    )


def test_every_catalogue_topic_is_a_channel(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(topics())
    assert len(document["channels"]) == len(CATALOGUE)


@pytest.mark.parametrize(
    "model", [CATALOGUE[key] for key in sorted(CATALOGUE)], ids=lambda m: m.__name__
)
def test_each_channel_carries_the_typed_envelope(document: dict[str, Any], model: Any) -> None:
    channel = document["channels"][asyncapi.channel_title(model)]
    assert channel["address"] == model.event_type
    assert channel["bindings"]["kafka"]["topic"] == model.event_type
    assert f"data.{model.subject_field}" in channel["description"]

    (message_ref,) = channel["messages"].values()
    message = resolve(document, message_ref["$ref"])
    assert message["correlationId"]["location"] == "$message.header#/trace-id"
    assert message["headers"]["properties"]["event-type"]["const"] == model.event_type
    assert model.subject_field in message["bindings"]["kafka"]["key"]["description"]

    envelope = resolve(document, message["payload"]["$ref"])
    assert set(envelope["required"]) >= {
        "id",
        "type",
        "version",
        "source",
        "time",
        "subject",
        "trace_id",
        "data",
    }
    assert envelope["properties"]["type"]["const"] == model.event_type
    assert envelope["properties"]["version"]["const"] == model.event_version
    data = resolve(document, envelope["properties"]["data"]["$ref"])
    assert set(data["properties"]) == set(model.model_fields)
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert set(data.get("required", [])) == required


def test_every_event_is_described_with_its_producer_and_consumers() -> None:
    assert set(asyncapi._ABOUT) == set(CATALOGUE), "describe the event in asyncapi._ABOUT"


@pytest.mark.parametrize(
    "model", [CATALOGUE[key] for key in sorted(CATALOGUE)], ids=lambda m: m.__name__
)
def test_every_event_has_a_row_in_the_prose_docs(model: Any) -> None:
    lines = (ROOT / "docs" / "events.md").read_text(encoding="utf-8").splitlines()
    rows = [[cell.strip() for cell in line.split("|")] for line in lines if line.startswith("| `")]
    key = [f"`{model.event_type}`", str(model.event_version)]
    cells = next((row for row in rows if row[1:3] == key), None)
    assert cells is not None, f"add {model.event_type} v{model.event_version} to docs/events.md"
    assert cells[5] == f"`{model.subject_field}`"
    producer, consumers = asyncapi._ABOUT[(model.event_type, model.event_version)][1:]
    assert cells[3] == producer
    assert cells[4] == (consumers or "—")


def test_info_states_the_dead_letter_convention(document: dict[str, Any]) -> None:
    info = document["info"]["description"]
    for needle in (
        "<topic>.dlq",
        "<topic>.retry.<group>",
        "x-original-topic",
        "x-error",
        "x-attempt",
        "x-consumer-group",
        "x-failed-at",
        "jarvis-dlq replay",
    ):
        assert needle in info


def test_generator_imports_no_service() -> None:
    probe = (
        "import sys, jarvis_common.asyncapi as a; a.render(); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVICE_PACKAGES!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
