"""The model commands: `train` learns from the projection's labelled history with a time-based
split and reports its metrics; `score-csv` scores outside data with the same arithmetic as the
engine and measures it when labels are given; bad input is refused with a clear message."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from churn_world import Churn

from churn_engine.commands import main as command
from churn_engine.scoring import NUMERIC, SIGNALS_SQL
from churn_engine.synthetic import generate
from churn_engine.synthetic_load import load_check_ins, load_members

pytestmark = pytest.mark.timeout(150)


async def load(churn: Churn, population) -> None:  # type: ignore[no-untyped-def]
    async with churn.app.db.unit_of_work() as uow:
        conn = await uow.driver_connection()
        await load_members(conn, population)
        await load_check_ins(conn, population)


async def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = await asyncio.to_thread(command, argv)
    out, err = capsys.readouterr()
    return code, out, err


async def test_train_learns_from_cancellations_and_the_engine_then_uses_it(
    churn: Churn, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    population = generate(2500, gyms=2, days=240, seed=21)
    await load(churn, population)
    first = population.day(100).isoformat()
    last = population.day(population.days - 30).isoformat()
    model_file = tmp_path / "model.json"
    code, out, err = await run(
        ["train", "--database-url", database_url, "--from", first, "--to", last,
         "--activate", "--export", str(model_file)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["saved"] and report["active"]
    # time-based split: every training snapshot's 30-day label window ends before the first test
    # snapshot, so no cancellation is both learnt from and tested on
    trained_until = max(map(datetime.fromisoformat, report["train"]["snapshots"]))
    tested_from = min(map(datetime.fromisoformat, report["test"]["snapshots"]))
    assert trained_until + timedelta(days=30) <= tested_from
    assert report["train"]["positives"] >= 50 and report["test"]["positives"] >= 20
    metrics = report["metrics"]
    assert metrics["roc_auc"] > 0.8
    assert metrics["pr_auc"] > 2 * metrics["base_rate"]
    assert metrics["precision_at_top_20pct"] > 2 * metrics["base_rate"]
    assert 0 <= metrics["brier"] < metrics["base_rate"]
    assert len(metrics["calibration"]) == 10
    assert "roc_auc" in report["default_model_metrics"]
    assert json.loads(model_file.read_text())["version"] == report["version"]

    as_of = population.end + timedelta(hours=1)
    outcome = await churn.score(as_of)
    assert set(outcome["models"]) == {report["version"]}


async def test_train_keeps_the_default_without_enough_history(
    churn: Churn, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    population = generate(80, gyms=1, days=200, seed=2)
    await load(churn, population)
    code, out, _ = await run(
        ["train", "--database-url", database_url, "--from", population.day(90).isoformat(),
         "--to", population.day(170).isoformat()],
        capsys,
    )  # fmt: skip
    assert code == 2
    report = json.loads(out)
    assert report["saved"] is False and "not enough" in report["why_not"]
    rows = await churn.fetch("SELECT count(*) AS n FROM models")
    assert rows[0]["n"] == 0


async def export_features(churn: Churn, population, path: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The engine's own signals as of the end, with the known labels, as a features CSV."""
    as_of = population.end + timedelta(hours=1)
    ids = population.member_ids()
    labels = dict(zip(ids, population.churns_within(population.days).tolist(), strict=True))
    async with churn.app.db.unit_of_work() as uow:
        conn = await uow.driver_connection()
        await conn.execute(SIGNALS_SQL, as_of, 0.3, 0.6, as_of.date(), [], [])
        rows = await conn.fetch("SELECT * FROM scoring_input ORDER BY member_id")
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["member_id", "contract_type", *NUMERIC, "label"])
        for r in rows:
            numbers = ["" if r[name] is None else repr(r[name]) for name in NUMERIC]
            label = int(labels[r["member_id"]])
            writer.writerow([r["member_id"], r["contract_type"] or "", *numbers, label])
    await churn.score(as_of)
    return {str(m): s["risk"] for m, s in (await churn.scores(as_of.date())).items()}


async def test_score_csv_measures_outside_data_with_the_engines_arithmetic(
    churn: Churn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    population = generate(600, gyms=1, seed=8)
    await load(churn, population)
    features = tmp_path / "features.csv"
    engine_risk = await export_features(churn, population, features)
    scores, report_file = tmp_path / "scores.csv", tmp_path / "report.json"
    code, _, err = await run(
        ["score-csv", str(features), "--output", str(scores), "--report", str(report_file)],
        capsys,
    )
    assert code == 0, err
    report = json.loads(report_file.read_text())
    assert report["model_version"] == "default-1"
    assert report["metrics"]["roc_auc"] > 0.85
    assert {"pr_auc", "precision_at_top_20pct", "brier", "calibration"} <= set(report["metrics"])
    with scores.open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(engine_risk)
    for row in rows:
        expected = engine_risk[row["member_id"]]
        if expected is None:
            assert row["band"] == "insufficient_data"
        else:
            assert float(row["risk"]) == pytest.approx(expected, abs=1e-4)
            assert json.loads(row["reasons"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("member_id,tenure_days\nm1,100\n", "missing required column(s): visits_28d"),
        ("visits_28d,tenure_days\n3,abc\n", "line 2: tenure_days is not a number: 'abc'"),
        ("visits_28d,tenure_days,label\n3,100,maybe\n", "line 2: label must be 0 or 1"),
        ("visits_28d,tenure_days\n", "the file has no rows"),
    ],
)
async def test_score_csv_refuses_bad_files_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, out, err = await run(["score-csv", str(path)], capsys)
    assert code == 1
    assert message in err and out == ""
