"""The published AsyncAPI contract of every event in the catalogue.

    python -m jarvis_common.asyncapi docs/asyncapi     # writes docs/asyncapi/asyncapi.json

FastStream generates the document from a `KafkaBroker` that is never connected, with one
publisher per catalogue entry whose schema is the full envelope with its typed `data`. A few
facts FastStream cannot express are then added to each message: the Kafka key (the envelope
`subject`), the headers the outbox relay sets, `trace-id` as the correlation id, and the fixed
`type` and `version` of the envelope.

The output is deterministic (sorted keys, fixed server, catalogue order), so the committed file
can be compared with a fresh render; `libs/common/tests/test_asyncapi.py` does exactly that.
Only the catalogue is read: this module imports no service.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from jarvis_common.events import CATALOGUE, Envelope, EventData
from jarvis_common.messaging import retry as r
from jarvis_common.settings import PlatformSettings

OUTPUT_NAME = "asyncapi.json"
TITLE = "JARVIS events"
# The version of this document's conventions, not of any event: each event carries its own.
DOCUMENT_VERSION = "1"

# What happened, who publishes it (the envelope's `source`) and who consumes it inside the
# platform, as designed (docs/events.md has the same table). A new event falls back to its
# model docstring, or to a generic sentence.
_ABOUT: dict[tuple[str, int], tuple[str, str, str]] = {
    ("session.started", 1): ("A kiosk conversation started.", "session-gateway", ""),
    ("session.closed", 1): (
        "A kiosk conversation ended, by any path; carries the whole transcript, token usage "
        "and cost.",
        "session-gateway",
        "summarizer, kiosk-registry, reporter",
    ),
    ("kiosk.heartbeat", 1): (
        "The gateway received a kiosk's heartbeat.",
        "session-gateway",
        "kiosk-registry",
    ),
    ("kiosk.provisioned", 1): (
        "A kiosk was provisioned, with its full configuration.",
        "kiosk-registry",
        "session-gateway",
    ),
    ("kiosk.config_changed", 1): (
        "A kiosk's configuration changed; carries the full new configuration.",
        "kiosk-registry",
        "session-gateway",
    ),
    ("kiosk.revoked", 1): (
        "A kiosk's credentials were revoked; it may no longer connect.",
        "kiosk-registry",
        "session-gateway",
    ),
    ("kiosk.status_changed", 1): (
        "A kiosk went online, offline, into error or back to provisioning.",
        "kiosk-registry",
        "",
    ),
    ("member.upserted", 1): (
        "A gym member was created or updated; carries the member's current state.",
        "kiosk-registry",
        "session-gateway, churn-engine, reporter",
    ),
    ("gym.upserted", 1): (
        "A gym was created or changed, or who receives its reports did; carries its current "
        "state (time zone, language) and its report recipients.",
        "kiosk-registry",
        "reporter",
    ),
    ("member.churn_snoozed", 1): (
        "Gym staff asked for no churn alert for a member until a date.",
        "kiosk-registry",
        "churn-engine",
    ),
    ("member.checked_in", 1): (
        "A member checked in at the gym.",
        "kiosk-registry",
        "churn-engine, reporter",
    ),
    ("summary.created", 1): (
        "A closed conversation was summarised: summary, sentiment, topics, churn signals.",
        "summarizer",
        "kiosk-registry, churn-engine, reporter",
    ),
    ("churn.alert.raised", 1): (
        "A member's churn risk crossed an alert threshold.",
        "churn-engine",
        "kiosk-registry, reporter",
    ),
    ("churn.alert.resolved", 1): (
        "An open churn alert was resolved.",
        "churn-engine",
        "kiosk-registry, reporter",
    ),
    ("report.generated", 1): (
        "A weekly report for a gym or a franchise was generated.",
        "reporter",
        "kiosk-registry",
    ),
    ("schedule.tick", 1): (
        "A scheduled job's slot came due (one tick per job and slot).",
        "scheduler",
        "churn-engine, reporter",
    ),
}

INFO_DESCRIPTION = f"""\
Every event the JARVIS platform publishes, one channel per event type and version. Read
docs/events.md beside this file for the prose.

- **Topic = event type** (`session.closed`). Each message is one JSON envelope: `id`, `type`,
  `version`, `source`, `time`, `gym_id`, `franchise_id`, `subject`, `trace_id` and the typed
  `data` of that type and version. Decimal amounts are JSON strings.
- **Kafka key = envelope `subject`** (the id named in each channel), so events about one entity
  are in order on one partition.
- **Versions.** Ignore fields you do not know: optional fields may be added to a published
  version. A breaking change is a new `version` published beside the old one on the same topic,
  never an edit; read `version` before `data`.
- **At-least-once.** An event can be delivered more than once: deduplicate by `id`.
- **Retries.** A consumer group that fails transiently on an event republishes it to its own
  `<topic>{r.retry_topic("", "<group>")}` and moves on, so a retried event is applied after later
  events with the same key.
- **Dead letters.** An event that fails permanently, or after its last retry, goes to
  `<topic>{r.dlq_topic("")}` with its original bytes, key and headers, plus the headers
  `{r.H_ORIGINAL_TOPIC}`, `{r.H_ORIGINAL_PARTITION}`, `{r.H_ORIGINAL_OFFSET}` (where it came
  from), `{r.H_ERROR}`, `{r.H_ERROR_TYPE}`, `{r.H_ATTEMPT}`, `{r.H_GROUP}` and `{r.H_FAILED_AT}`
  (ms since the epoch). `jarvis-dlq list <topic>` shows them; `jarvis-dlq replay <topic>`
  republishes them to the original topic, where consumers deduplicate them by `id`.
"""

SERVER_DESCRIPTION = (
    "The local development default. Deployments set the bootstrap servers with "
    "JARVIS_KAFKA_BOOTSTRAP_SERVERS."
)

_UUID = {"type": "string", "format": "uuid"}


def _about(model: type[EventData]) -> str:
    key = (model.event_type, model.event_version)
    if key in _ABOUT:
        what, producer, consumers = _ABOUT[key]
        used = f"consumed by {consumers}" if consumers else "no platform service consumes it"
        who = f" Published by {producer}; {used}."
    else:
        what = (model.__doc__ or "").strip() or f"`{model.event_type}` happened."
        who = ""
    return (
        f"{what}{who} Envelope `type` = `{model.event_type}`, `version` = "
        f"{model.event_version}; Kafka key and `subject` = `data.{model.subject_field}`."
    )


def channel_title(model: type[EventData]) -> str:
    """The channel's name in the document; its address is the topic."""
    return f"{model.event_type} v{model.event_version}"


def build_broker() -> KafkaBroker:
    """A never-connected broker with one publisher per catalogue entry."""
    host = PlatformSettings.model_fields["kafka_bootstrap_servers"].default
    broker = KafkaBroker(host, description=SERVER_DESCRIPTION)
    for _, model in sorted(CATALOGUE.items()):
        broker.publisher(
            model.event_type,
            schema=Envelope[model],  # type: ignore[valid-type]
            title=channel_title(model),
            description=_about(model),
        )
    return broker


def _headers_schema(model: type[EventData]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Set by the outbox relay on every event; the body remains the contract.",
        "properties": {
            "event-type": {"type": "string", "const": model.event_type},
            "event-version": {"type": "string", "const": str(model.event_version)},
            "event-id": {**_UUID, "description": "Equals the envelope `id`."},
            "trace-id": {"type": "string", "description": "Equals the envelope `trace_id`."},
            "content-type": {"type": "string", "const": "application/json"},
        },
    }


def _schema_at(document: dict[str, Any], reference: str) -> dict[str, Any]:
    node: Any = document
    for part in unquote(reference).removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add what FastStream does not know to each channel's message."""
    channels = document["channels"]
    for _, model in sorted(CATALOGUE.items()):
        channel = channels[channel_title(model)]
        for message_ref in channel["messages"].values():
            message = _schema_at(document, message_ref["$ref"])
            message["headers"] = _headers_schema(model)
            message["correlationId"] = {
                "location": "$message.header#/trace-id",
                "description": "The envelope `trace_id`, shared by every event of one flow.",
            }
            message["bindings"] = {
                "kafka": {
                    "bindingVersion": "0.4.0",
                    "key": {
                        "type": "string",
                        "description": f"The envelope `subject`: `data.{model.subject_field}`.",
                    },
                }
            }
            envelope = _schema_at(document, message["payload"]["$ref"])
            envelope["properties"]["type"]["const"] = model.event_type
            envelope["properties"]["version"]["const"] = model.event_version
    return document


def build_document() -> dict[str, Any]:
    spec = AsyncAPI(
        build_broker(),
        title=TITLE,
        version=DOCUMENT_VERSION,
        description=INFO_DESCRIPTION,
        schema_version="3.0.0",
    ).to_specification()
    return _complete(spec.to_jsonable())


def render() -> str:
    """The exact text of docs/asyncapi/asyncapi.json."""
    return json.dumps(build_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jarvis_common.asyncapi", description=__doc__.splitlines()[0]
    )
    parser.add_argument("directory", type=Path, help="where to write " + OUTPUT_NAME)
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    target = args.directory / OUTPUT_NAME
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
