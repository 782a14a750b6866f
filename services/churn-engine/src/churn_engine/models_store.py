"""Which model scores which gym: the newest active model trained for the gym, else the newest
active platform-wide model, else the documented default."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from churn_engine.model import DEFAULT_MODEL, LogisticModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    fallback: LogisticModel = DEFAULT_MODEL
    gym_models: dict[uuid.UUID, LogisticModel] = field(default_factory=dict)


async def load_choice(conn: asyncpg.Connection) -> ModelChoice:
    rows = await conn.fetch(
        "SELECT DISTINCT ON (gym_id) gym_id, version, parameters FROM models WHERE active "
        "ORDER BY gym_id, trained_at DESC, version DESC"
    )
    fallback = DEFAULT_MODEL
    gyms: dict[uuid.UUID, LogisticModel] = {}
    for row in rows:
        try:
            model = LogisticModel.from_parameters(row["version"], _json(row["parameters"]))
        except (ValueError, KeyError, TypeError):
            # One unusable row (trained on other features, malformed) must not stop scoring for
            # every gym: its gym falls back to the platform-wide model or the default.
            log.exception(
                "model %s (gym %s) cannot be loaded; skipped", row["version"], row["gym_id"]
            )
            continue
        if row["gym_id"] is None:
            fallback = model
        else:
            gyms[row["gym_id"]] = model
    return ModelChoice(fallback, dict(sorted(gyms.items())))


async def save_model(
    conn: asyncpg.Connection,
    model: LogisticModel,
    *,
    gym_id: uuid.UUID | None,
    metrics: dict[str, Any],
    trained_at: datetime,
    active: bool,
) -> None:
    await conn.execute(
        "INSERT INTO models (version, gym_id, parameters, metrics, trained_at, active) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        model.version,
        gym_id,
        json.dumps(model.parameters()),
        json.dumps(metrics),
        trained_at,
        active,
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
