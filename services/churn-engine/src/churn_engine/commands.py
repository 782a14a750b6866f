"""The model commands: `train` (from the projection's history) and `score-csv` (outside data).

    churn-engine train [--gym ID] [--from DATE] [--to DATE] [--every-days 14] [--activate]
                       [--export model.json] [--database-url URL]
    churn-engine score-csv FILE [--model model.json] [--amber 0.3] [--red 0.6]
                       [--output scores.csv] [--report metrics.json]

Both print a JSON report on standard output (score-csv: on standard error when the scores go to
standard output). Exit status: 0 done, 1 bad input, 2 not enough history to train.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from churn_engine.csv_scoring import CsvError, load_model_file, score_csv, write_scores
from churn_engine.model import DEFAULT_MODEL
from churn_engine.settings import Settings
from churn_engine.tables import SCHEMA
from churn_engine.training import train
from jarvis_common.settings import PlatformSettings, plain_dsn


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="churn-engine")
    commands = parser.add_subparsers(dest="command", required=True)

    trainer = commands.add_parser("train", help="train a model from labelled history")
    trainer.add_argument("--gym", type=uuid.UUID, help="train for one gym (default: all gyms)")
    trainer.add_argument("--from", dest="first", type=date.fromisoformat, help="first snapshot")
    trainer.add_argument("--to", dest="last", type=date.fromisoformat, help="last snapshot")
    trainer.add_argument("--every-days", type=int, default=14)
    trainer.add_argument("--activate", action="store_true", help="use it for scoring")
    trainer.add_argument("--export", type=Path, help="also write the model to this JSON file")
    trainer.add_argument("--database-url", help="default: JARVIS_DATABASE_URL")

    scorer = commands.add_parser("score-csv", help="score a CSV of member features")
    scorer.add_argument("file", type=Path)
    scorer.add_argument("--model", type=Path, help="a model file from train --export")
    scorer.add_argument("--amber", type=float)
    scorer.add_argument("--red", type=float)
    scorer.add_argument("--output", type=Path, help="default: standard output")
    scorer.add_argument("--report", type=Path, help="write the metrics JSON here too")

    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return asyncio.run(_train(args))
        return _score_csv(args)
    except CsvError as error:
        print(f"churn-engine {args.command}: {error}", file=sys.stderr)
        return 1


async def _train(args: argparse.Namespace) -> int:
    url = args.database_url or PlatformSettings().database_url
    url = PlatformSettings(database_url=url).database_url
    last = args.last or (datetime.now(UTC).date() - timedelta(days=30))
    first = args.first or (last - timedelta(days=365))
    if first > last:
        raise CsvError("--from must not be after --to")
    conn = await asyncpg.connect(
        plain_dsn(url), server_settings={"search_path": f"{SCHEMA},public", "timezone": "UTC"}
    )
    try:
        report = await train(
            conn,
            gym_id=args.gym,
            first_as_of=datetime.combine(first, time(2), tzinfo=UTC),
            last_as_of=datetime.combine(last, time(2), tzinfo=UTC),
            every_days=args.every_days,
            activate=args.activate,
        )
    finally:
        await conn.close()
    if report.get("saved") and args.export:
        args.export.write_text(
            json.dumps({"version": report["version"], "parameters": report["parameters"]})
        )
    print(json.dumps(report, indent=2))
    return 0 if report.get("saved") else 2


def _score_csv(args: argparse.Namespace) -> int:
    settings = Settings()
    amber = args.amber if args.amber is not None else settings.amber_threshold
    red = args.red if args.red is not None else settings.red_threshold
    if not 0 < amber < red < 1:
        raise CsvError("thresholds must satisfy 0 < amber < red < 1")
    model = load_model_file(args.model) if args.model else DEFAULT_MODEL
    try:
        with args.file.open(newline="", encoding="utf-8") as stream:
            scores = score_csv(stream, model, amber=amber, red=red)
    except (OSError, UnicodeDecodeError) as error:
        raise CsvError(f"{args.file}: {error}") from None
    report: dict[str, Any] = {"model_version": model.version, "members": len(scores.bands)}
    if scores.metrics is not None:
        report["metrics"] = scores.metrics
    if args.output:
        with args.output.open("w", newline="", encoding="utf-8") as out:
            write_scores(scores, out)
        print(json.dumps(report, indent=2))
    else:
        write_scores(scores, sys.stdout)
        print(json.dumps(report, indent=2), file=sys.stderr)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2))
    return 0
