"""Scoring a CSV of member features with a model, and measuring it when labels are given.

Columns (header row, any order; docs/churn.md): the signals of `churn_engine.signals`
(`SIGNAL_COLUMNS`), `contract_type`, optionally `member_id` (echoed back) and `label`
(1 = cancelled within 30 days, 0 = stayed). An empty cell is a missing value.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from churn_engine.evaluation import evaluate
from churn_engine.model import LogisticModel
from churn_engine.reasons import reason_values, reasons_json
from churn_engine.signals import SIGNAL_COLUMNS, Signals, feature_matrix

REQUIRED = ("visits_28d", "tenure_days")


class CsvError(ValueError):
    """The file cannot be scored as it is; the message says where and why."""


@dataclass
class CsvScores:
    member_ids: list[str]
    risk: np.ndarray
    bands: list[str]
    reasons: list[str]
    metrics: dict[str, Any] | None


def read_features(stream: TextIO) -> tuple[Signals, list[str], np.ndarray | None]:
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CsvError(f"missing required column(s): {', '.join(missing)}")
    columns: dict[str, list[Any]] = {c: [] for c in SIGNAL_COLUMNS}
    columns["contract_type"] = []
    ids: list[str] = []
    labels: list[int] = []
    has_label = "label" in header
    for line, row in enumerate(reader, start=2):
        for name in SIGNAL_COLUMNS:
            columns[name].append(_number(row.get(name), name, line, required=name in REQUIRED))
        columns["contract_type"].append((row.get("contract_type") or "").strip() or None)
        ids.append((row.get("member_id") or "").strip())
        if has_label:
            labels.append(_label(row.get("label"), line))
    if not ids:
        raise CsvError("the file has no rows")
    return Signals.from_columns(columns), ids, np.array(labels) if has_label else None


def _number(text: str | None, name: str, line: int, *, required: bool) -> float:
    text = (text or "").strip()
    if not text:
        if required:
            raise CsvError(f"line {line}: {name} is required")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise CsvError(f"line {line}: {name} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise CsvError(f"line {line}: {name} must be finite")
    return value


def _label(text: str | None, line: int) -> int:
    text = (text or "").strip().lower()
    if text in {"1", "true", "yes"}:
        return 1
    if text in {"0", "false", "no"}:
        return 0
    raise CsvError(f"line {line}: label must be 0 or 1, not {text!r}")


def score_csv(stream: TextIO, model: LogisticModel, *, amber: float, red: float) -> CsvScores:
    signals, ids, labels = read_features(stream)
    x = feature_matrix(signals)
    contributions = model.contributions(x)
    risk = model.risk(contributions)
    enough = signals.enough_history()
    bands = [
        "insufficient_data" if not ok else "red" if r >= red else "amber" if r >= amber else "green"
        for r, ok in zip(risk, enough, strict=True)
    ]
    reasons = reasons_json(contributions, reason_values(x, signals), signals.contract_type)
    metrics = None
    if labels is not None:
        # Measured on the members the engine would score: not those without enough history.
        metrics = evaluate(labels[enough], risk[enough])
        metrics["insufficient_data"] = int((~enough).sum())
        metrics["model_version"] = model.version
    return CsvScores(ids, risk, bands, reasons, metrics)


def write_scores(scores: CsvScores, out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(["member_id", "risk", "band", "reasons"])
    for member, risk, band, reasons in zip(
        scores.member_ids, scores.risk, scores.bands, scores.reasons, strict=True
    ):
        shown = "" if band == "insufficient_data" else f"{risk:.4f}"
        writer.writerow([member, shown, band, reasons if shown else "[]"])


def load_model_file(path: Path) -> LogisticModel:
    """A model exported by `train --export` (version and parameters as JSON)."""
    try:
        data = json.loads(path.read_text())
        return LogisticModel.from_parameters(data["version"], data["parameters"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CsvError(f"{path}: not a model file ({error})") from None
