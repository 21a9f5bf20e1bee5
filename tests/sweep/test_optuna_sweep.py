"""Real multiruns through the Optuna sweeper in a temp dir, with a real SQLite study."""

import contextlib
import json
import socket
import sqlite3
import subprocess
import sys

import optuna
import pandas as pd
import pytest

from conftest import REPO, run_cli
from lstm_ae.sweep.liveness import pid_namespace

FAST = ["dataset.size=300", "trainer.epochs=2", "model.hidden=8", "optimizer=sgd", "trainer.grad_clip=0"]


def _study(sweep_dir):
    name = optuna.get_all_study_summaries(f"sqlite:///{sweep_dir}/optuna.db")[0].study_name
    return optuna.load_study(study_name=name, storage=f"sqlite:///{sweep_dir}/optuna.db")


def _n_complete(sweep_dir) -> int:
    """Completed trials, read while a sweep is writing the database. Read-only: opening it through
    Optuna would create the schema and race the sweeper doing the same."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{sweep_dir}/optuna.db?mode=ro", uri=True)) as db:
            return db.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:  # no database or no tables yet
        return 0


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """A 3-point grid where one learning rate overflows: that trial diverges, the others complete."""
    sweep_dir = tmp_path_factory.mktemp("sweep") / "grid"
    args = ["-m", *FAST, "optimizer.lr=0.01,0.05,1e200", f"hydra.sweep.dir={sweep_dir}"]
    proc = run_cli(*args, cwd=sweep_dir.parent)
    return sweep_dir, args, proc


@pytest.mark.slow
def test_grid_runs_each_point_once_and_survives_a_diverging_trial(grid_sweep):
    sweep_dir, _, proc = grid_sweep
    assert proc.returncode == 0, proc.stderr[-3000:]
    trial_dirs = sorted(p.name for p in sweep_dir.iterdir() if (p / ".hydra").is_dir())
    assert trial_dirs == ["0", "1", "2"]
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert len(summary) == 3
    assert sorted(summary["optimizer.lr"].astype(float)) == [0.01, 0.05, 1e200]
    diverged = summary[summary["status"] == "diverged"]
    assert list(diverged["optimizer.lr"].astype(float)) == [1e200]
    assert "overflow" in diverged["reason"].iloc[0]
    done = summary[summary["status"] == "completed"]
    assert len(done) == 2 and done["objective"].notna().all()
    assert summary["status"].iloc[0] == "completed"  # best first, failures last
    assert summary["objective"].iloc[0] <= summary["objective"].iloc[1]
    study = _study(sweep_dir)
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]
    failed = next(t for t in study.trials if t.state.name == "FAIL")
    assert failed.user_attrs["status"] == "diverged"
    for name in (
        "summary.md",
        "objective_vs_params.png",
        "val_curves.png",
        "best_reconstructions.png",
        "optimization_results.yaml",
        "multirun.yaml",
    ):
        assert (sweep_dir / name).exists(), name
    md = (sweep_dir / "summary.md").read_text()
    assert "Best trial" in md and "diverged" in md
    header = next(line for line in md.splitlines() if line.startswith("| trial"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert "objective (val_loss)" in columns and "test_recon" not in columns  # the metric named; no duplicate
    assert "test_recon_vs_pca" in columns  # every reconstruction against PCA of its context size
    assert not (sweep_dir / "optuna_history.png").exists()  # it repeated objective_vs_params.png


def test_rerunning_a_finished_grid_runs_nothing_new(grid_sweep):
    sweep_dir, args, _ = grid_sweep
    proc = run_cli(*args, cwd=sweep_dir.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(_study(sweep_dir).trials) == 3
    assert sorted(p.name for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()) == ["0", "1", "2"]


def test_report_cli_rebuilds_summary_of_partly_failed_sweep(grid_sweep):
    sweep_dir, _, _ = grid_sweep
    (sweep_dir / "summary.csv").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_ae.sweep.summary", str(sweep_dir)], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(sweep_dir / "summary.csv")) == 3
    assert "diverged" in proc.stdout


@pytest.mark.slow
def test_sampler_search_space_runs_n_trials(tmp_path):
    sweep_dir = tmp_path / "tpe"
    proc = run_cli(
        "-m",
        *FAST,
        "optimizer.lr=interval(0.001,0.05)",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lrs = pd.read_csv(sweep_dir / "summary.csv")["optimizer.lr"].astype(float)
    assert len(lrs) == 2 and all(0.001 <= lr <= 0.05 for lr in lrs)


def test_too_many_failures_stop_the_sweep_with_a_clear_message(tmp_path):
    sweep_dir = tmp_path / "bad"
    proc = run_cli("-m", *FAST, "optimizer.lr=1e100,1e200,1e300", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert proc.returncode == 3
    last = proc.stderr.strip().splitlines()[-1]  # one line: how many, the commonest reasons, where to look
    assert last.startswith("error: sweep stopped: 2 of 3 planned trials failed") and "max_failure_rate" in last
    assert "2x " in last and str(sweep_dir / "summary.md") in last and "Traceback" not in proc.stderr[-500:]
    assert len(pd.read_csv(sweep_dir / "summary.csv")) == 2  # stopped after the 2nd of 3 failures (> 0.5 x 3)


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [("hydra.sweeper.n_trials=0", "hydra.sweeper.n_trials=0; allowed: a whole number >= 1 (or null"),
     ("hydra.sweeper.n_jobs=-1", "hydra.sweeper.n_jobs=-1; allowed: a whole number >= 1")],
)  # fmt: skip
def test_a_sweep_that_cannot_run_is_one_line_and_leaves_no_study(setting, fragment, tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_cli("-m", *FAST, "optimizer.lr=0.01,0.02", setting, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and fragment in lines[0], proc.stderr[-2000:]
    assert not (sweep_dir / "optuna.db").exists()


@pytest.mark.slow
def test_killed_sweep_resumes_without_rerunning_finished_trials(tmp_path):
    """SIGKILL a 4-point grid after two trials, run the same command again: the two finished
    trials are kept (their files untouched), the killed one is marked FAIL and its grid point
    run again, and the grid ends complete with each point finished exactly once."""
    import os
    import signal
    import time

    sweep_dir = tmp_path / "killed"
    args = [
        "-m",
        "dataset.size=600",
        "trainer.epochs=6",
        "model.hidden=8",
        "optimizer.lr=0.002,0.004,0.006,0.008",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "run.py"), *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 1800  # a hang guard only
    while time.time() < deadline and _n_complete(sweep_dir) < 2:
        time.sleep(0.2)
    assert _n_complete(sweep_dir) >= 2, "sweep did not get through two trials"
    os.killpg(proc.pid, signal.SIGKILL)  # wherever the sweeper is: queueing, asking or training trial 2
    proc.wait()
    kept = {name: (sweep_dir / name / "result.json").stat().st_mtime_ns for name in ("0", "1")}
    assert _n_complete(sweep_dir) == 2

    rerun = run_cli(*args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    for name, mtime in kept.items():
        assert (sweep_dir / name / "result.json").stat().st_mtime_ns == mtime  # not rerun
    study = _study(sweep_dir)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["optimizer.lr"] for t in complete) == [0.002, 0.004, 0.006, 0.008]
    assert all(t.state.name in ("COMPLETE", "FAIL") for t in study.trials)
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert sorted(summary["optimizer.lr"].astype(float)) == [0.002, 0.004, 0.006, 0.008]
    assert (summary["status"] == "completed").all()


@pytest.mark.slow
def test_sampled_sweep_records_a_diverged_trial_as_failed_and_goes_on(tmp_path):
    """hydra/sweeper=optuna (the name hydra-optuna-sweeper configs use) with a seeded TPE sampler over
    an interval: the run with an overflowing learning rate is FAIL with its status, the others COMPLETE."""
    sweep_dir = tmp_path / "sampled"
    proc = run_cli(
        "-m",
        "hydra/sweeper=optuna",
        *FAST,
        "optimizer.lr=tag(log,interval(0.01,1e200))",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.seed=1",
        "hydra.sweeper.max_failure_rate=1",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = _study(sweep_dir).trials
    assert len(trials) == 3
    for t in trials:
        result = json.loads((sweep_dir / str(t.number) / "result.json").read_text())
        assert t.user_attrs["status"] == result["status"]
        assert t.state.name == ("COMPLETE" if result["status"] == "completed" else "FAIL")
    assert {t.user_attrs["status"] for t in trials} >= {"diverged"}


@pytest.mark.slow
def test_trials_left_queued_or_running_by_a_dead_sweeper_are_recovered(tmp_path):
    """A sweeper can die between queueing a grid point and asking for it, right after asking
    (the trial has no params yet: the state a SIGKILL left in CI once), or while its trial runs.
    The next run of the same command runs each missing point once, marks the dead RUNNING
    trials FAIL, and leaves nothing WAITING or RUNNING behind."""
    sweep_dir = tmp_path / "dead"
    sweep_dir.mkdir()
    study = optuna.create_study(study_name="toy_reconstruct", storage=f"sqlite:///{sweep_dir}/optuna.db")
    grid = optuna.distributions.CategoricalDistribution([0.01, 0.02, 0.03])
    study.add_trial(  # the 0.01 point finished before the sweeper died
        optuna.trial.create_trial(params={"optimizer.lr": 0.01}, distributions={"optimizer.lr": grid}, value=0.5)
    )
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = {"sweeper_host": socket.gethostname(), "sweeper_pid_ns": pid_namespace(), "sweeper_pid": int(dead.stdout)}
    study.enqueue_trial({"optimizer.lr": 0.03})
    running = study.ask()  # the 0.03 point: RUNNING, owned by the dead process
    assert running.suggest_categorical("optimizer.lr", [0.01, 0.02, 0.03]) == 0.03
    for key, value in owner.items():
        running.set_user_attr(key, value)
    study.enqueue_trial({}, user_attrs=owner)  # a sampled trial the dead process queued
    unnamed = study.ask()  # killed right after ask(), before it chose a value: no params yet
    study.enqueue_trial(  # the 0.02 point: queued by the dead process, never asked for
        {"optimizer.lr": 0.02}, user_attrs={**owner, "grid_point": json.dumps({"optimizer.lr": "0.02"})}
    )

    rerun = run_cli("-m", *FAST, "optimizer.lr=0.01,0.02,0.03", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    trials = _study(sweep_dir).trials
    complete = sorted(t.params["optimizer.lr"] for t in trials if t.state.name == "COMPLETE")
    assert complete == [0.01, 0.02, 0.03]
    assert [t.number for t in trials if t.state.name == "FAIL"] == [running.number, unnamed.number]
    assert len(trials) == 5  # the queued point ran as the trial that was waiting, not as a new one


@pytest.mark.slow
def test_a_grid_point_left_running_on_another_host_makes_the_sweep_fail_loudly(tmp_path):
    """The cluster case: a trial left RUNNING by a sweeper on node A cannot be judged from node B (its
    pid means nothing here). The sweep on B runs everything else, then exits non-zero with one line naming
    the unfinished point and how to finish it, instead of ending like a success."""
    sweep_dir = tmp_path / "hosts"
    sweep_dir.mkdir()
    study = optuna.create_study(study_name="toy_reconstruct", storage=f"sqlite:///{sweep_dir}/optuna.db")
    study.enqueue_trial({"optimizer.lr": 0.03})
    other = study.ask()
    assert other.suggest_categorical("optimizer.lr", [0.01, 0.03]) == 0.03
    other.set_user_attr("sweeper_host", "node-a-of-the-cluster")
    other.set_user_attr("sweeper_pid", 1)
    proc = run_cli("-m", *FAST, "optimizer.lr=0.01,0.03", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: sweep incomplete: 1 of 2 grid points not finished")
    assert "optimizer.lr=0.03 (RUNNING on node-a-of-the-cluster)" in last and "same command again" in last
    states = {t.params["optimizer.lr"]: t.state.name for t in _study(sweep_dir).trials}
    assert states == {0.03: "RUNNING", 0.01: "COMPLETE"}


def test_enqueued_configurations_run_first_and_once(tmp_path):
    """hydra.sweeper.enqueue: in a grid, its points first; in a sampled space, its configurations first;
    a rerun (which finishes or extends the plan) never runs them again; summary.md names them."""
    grid_dir, sampled_dir = tmp_path / "grid", tmp_path / "sampled"
    grid = [
        "-m",
        *FAST,
        "model.hidden=4,8,16",
        "+hydra.sweeper.enqueue=[{model.hidden:16}]",
        f"hydra.sweep.dir={grid_dir}",
    ]
    for _ in range(2):
        proc = run_cli(*grid, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert [t.params["model.hidden"] for t in _study(grid_dir).trials] == [16, 4, 8]
    assert "Enqueued first (`hydra.sweeper.enqueue`): trial(s) 0." in (grid_dir / "summary.md").read_text()
    sampled = ["-m", *FAST, "optimizer.lr=interval(0.001,0.1)", "+hydra.sweeper.enqueue=[{optimizer.lr:0.0123}]",
               f"hydra.sweep.dir={sampled_dir}"]  # fmt: skip
    for n in (2, 3):
        proc = run_cli(*sampled, f"hydra.sweeper.n_trials={n}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
    lrs = [t.params["optimizer.lr"] for t in _study(sampled_dir).trials]
    assert len(lrs) == 3 and lrs[0] == 0.0123 and lrs.count(0.0123) == 1
    bad = run_cli(*grid[:-1], "+hydra.sweeper.enqueue=[{model.hidden:12}]", f"hydra.sweep.dir={tmp_path / 'bad'}")
    assert (
        bad.returncode == 2 and "hydra.sweeper.enqueue[0]={'model.hidden': 12} is not a point of the grid" in bad.stderr
    )
