"""Sweeps across processes: pruning through the shared SQLite study, joblib and submitit
launchers, and two sweep processes sharing one study."""

import subprocess
import sys

import optuna
import pandas as pd
import pytest

from conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them

FAST = ["dataset.size=300", "trainer.epochs=3", "model.hidden=8", "process.threads=1"]
MEDIAN = [
    "hydra/sweeper/pruner=median",
    "hydra.sweeper.pruner.n_startup_trials=1",
    "hydra.sweeper.pruner.n_warmup_steps=0",
]


def _study(sweep_dir):
    return optuna.load_study(study_name="toy_reconstruct", storage=f"sqlite:///{sweep_dir}/optuna.db")


def test_submitit_local_sweep_prunes_a_hopeless_trial_across_processes(tmp_path):
    """Each trial runs in its own submitit process; lr=1e-7 is worse than the finished
    lr=0.01 trial after epoch 1, so the median pruner stops it: PRUNED in study and summary."""
    sweep_dir = tmp_path / "submitit"
    proc = run_cli(
        "-m",
        *FAST,
        *MEDIAN,
        "optimizer.lr=0.01,1e-7",
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    states = {t.params["optimizer.lr"]: t.state.name for t in _study(sweep_dir).trials}
    assert states == {0.01: "COMPLETE", 1e-7: "PRUNED"}
    summary = pd.read_csv(sweep_dir / "summary.csv").set_index("optimizer.lr")
    assert summary.loc[1e-7, "status"] == "pruned" and summary.loc[1e-7, "epochs"] == 1
    assert summary.loc[0.01, "epochs"] == 3
    assert (sweep_dir / "1" / "metrics.csv").exists()  # a pruned trial keeps its artifacts
    assert "1 pruned" in (sweep_dir / "summary.md").read_text()


def test_joblib_launcher_runs_trials_in_parallel_without_oversubscribing(tmp_path):
    """Two joblib workers; process.threads left at 0, so each trial takes cores / n_jobs threads."""
    import os

    sweep_dir = tmp_path / "joblib"
    proc = run_cli(
        "-m",
        "dataset.size=300",
        "trainer.epochs=3",
        "model.hidden=8",
        "optimizer.lr=0.005,0.01,0.02,0.04",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "is launching 2 jobs" in proc.stderr + proc.stdout
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert sorted(summary["optimizer.lr"]) == [0.005, 0.01, 0.02, 0.04]
    assert (summary["status"] == "completed").all()
    expected = max(1, (os.cpu_count() or 1) // 2)
    assert f"threads={expected} " in (sweep_dir / "0" / "run.log").read_text()


def test_two_sweep_processes_share_one_grid_without_repeats(tmp_path):
    sweep_dir = tmp_path / "shared"
    args = [
        sys.executable,
        str(REPO / "run.py"),
        "-m",
        *FAST,
        "trainer.epochs=2",
        "optimizer.lr=0.001,0.002,0.003,0.004,0.005,0.006",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    procs = [
        subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=1800)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    trials = _study(sweep_dir).trials
    assert len(trials) == 6 and all(t.state.name == "COMPLETE" for t in trials)
    assert sorted(t.params["optimizer.lr"] for t in trials) == [0.001, 0.002, 0.003, 0.004, 0.005, 0.006]
    pids = {t.user_attrs["sweeper_pid"] for t in trials}
    assert len(pids) == 2  # both processes did part of the work
