"""Reruns never mix two configurations, through run.py for real: a run folder or a sweep's study
continued with another setting is refused in one line naming it, and nothing in the folder changes;
more epochs continue a run; trainer.resume=false starts over and keeps the old files aside; a grid grows
without rerunning its finished points."""

from __future__ import annotations

import hashlib
from pathlib import Path

import optuna
import pytest

from conftest import run_cli
from lstm_ae.files import PREVIOUS, read_result

TINY = ["dataset=toy", "dataset.size=300", "trainer.epochs=2", "process.threads=1"]


def snapshot(folder: Path) -> dict[str, tuple[float, str]]:
    """Every file under folder: (mtime, sha256)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line_error(proc) -> str:
    lines = [line for line in proc.stderr.strip().splitlines() if "Using an existing study" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    return lines[0]


@pytest.mark.slow
def test_a_run_folder_continues_only_with_its_own_settings(tmp_path):
    run = tmp_path / "run"
    first = run_cli(*TINY, "model.hidden=16", f"hydra.run.dir={run}")
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(run)
    for change, key in (
        ("optimizer.lr=0.01", "optimizer.lr: 0.02 → 0.01"),
        ("model.hidden=32", "model.hidden: 16 → 32"),
    ):
        proc = run_cli(*TINY, "model.hidden=16", change, f"hydra.run.dir={run}")
        assert proc.returncode == 2
        assert key in one_line_error(proc)
        assert snapshot(run) == before  # a refusal touches nothing: result.json, .hydra, weights
    longer = run_cli(*TINY, "model.hidden=16", "trainer.epochs=3", f"hydra.run.dir={run}")
    assert longer.returncode == 0, longer.stderr[-2000:]
    assert "resuming from" in longer.stdout + longer.stderr and read_result(run)["epochs_run"] == 3
    over = run_cli(*TINY, "model.hidden=32", "trainer.resume=false", f"hydra.run.dir={run}")
    assert over.returncode == 0, over.stderr[-2000:]
    kept = list((run / PREVIOUS).iterdir())
    assert len(kept) == 1 and read_result(kept[0])["epochs_run"] == 3  # the old run, whole
    assert "resuming" not in over.stdout + over.stderr and read_result(run)["epochs_run"] == 2


@pytest.mark.slow
def test_a_study_continues_only_its_own_sweep_and_its_grid_can_grow(tmp_path):
    sweep = tmp_path / "sweep"
    common = [*TINY, f"hydra.sweep.dir={sweep}"]
    first = run_cli("-m", *common, "model.hidden=8,16")
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(sweep)
    proc = run_cli("-m", *common, "model.hidden=8,16", "optimizer.lr=0.01")
    assert proc.returncode == 2
    assert "optimizer.lr: 0.02 → 0.01" in one_line_error(proc)
    assert snapshot(sweep) == before  # study, summary, optimization_results.yaml, trial folders
    grown = run_cli("-m", *common, "model.hidden=8,16,32")
    assert grown.returncode == 0, grown.stderr[-2000:]
    storage = f"sqlite:///{sweep}/optuna.db"
    (summary,) = optuna.get_all_study_summaries(storage)
    trials = optuna.load_study(study_name=summary.study_name, storage=storage).trials
    assert [(t.state.name, t.params["model.hidden"]) for t in trials] == [
        ("COMPLETE", 8),
        ("COMPLETE", 16),
        ("COMPLETE", 32),
    ]
    after = snapshot(sweep)
    for trial in ("0", "1"):  # the finished points were not run again
        assert after[f"{trial}/result.json"] == before[f"{trial}/result.json"]
    assert "| 32 |" in (sweep / "summary.md").read_text()
    shrunk = run_cli("-m", *common, "model.hidden=choice(8)")
    assert shrunk.returncode == 0, shrunk.stderr[-2000:]
    assert "holds 2 grid point(s) beyond this grid" in shrunk.stdout + shrunk.stderr
    assert len(optuna.load_study(study_name=summary.study_name, storage=storage).trials) == 3
