"""The sweeper keeps Hydra's and hydra-optuna-sweeper's contracts: a plain Hydra app whose task returns
a float (tests/examples/sphere.py) is swept with configs written for hydra-optuna-sweeper; the objective
is the return value; the log, optimization_results.yaml and summary.md agree; Hydra's own settings
(sweep subdir, basic sweeper, multirun.yaml) hold. Every sweep here is real: Hydra multirun in a temp
dir, a real Optuna study in SQLite or a journal file."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest
import yaml

from conftest import REPO, run_cli

SPHERE = REPO / "tests" / "examples" / "sphere.py"
FAST = ["dataset.size=300", "trainer.epochs=2", "model.hidden=8", "optimizer=sgd", "trainer.grad_clip=0"]


def run_app(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SPHERE), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, **(env or {})},
    )


def load(storage: str) -> optuna.Study:
    name = optuna.get_all_study_summaries(storage)[0].study_name
    return optuna.load_study(study_name=name, storage=storage)


def test_plain_hydra_app_returning_a_float_is_swept_for_n_trials(tmp_path):
    sweep = tmp_path / "sphere"
    proc = run_app(
        "-m",
        "x=interval(-5,5)",
        "y=interval(-5,5)",
        "hydra.sweeper.n_trials=20",
        f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(f"sqlite:///{sweep}/optuna.db")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 20
    for t in study.trials:  # the objective is exactly what the task returned
        assert t.value == pytest.approx(t.params["x"] ** 2 + t.params["y"] ** 2)
        assert -5 <= t.params["x"] <= 5 and -5 <= t.params["y"] <= 5
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(min(t.value for t in study.trials))
    assert results["best_params"] == study.best_trial.params
    assert (sweep / "multirun.yaml").exists()  # as Hydra's basic sweeper writes
    assert f"**Best trial: {study.best_trial.number}**" in (sweep / "summary.md").read_text()


@pytest.mark.slow
def test_config_written_for_hydra_optuna_sweeper_runs_unchanged(tmp_path):
    """tests/examples/conf/sphere.yaml: hydra/sweeper=optuna, sampler seed, in-memory storage, params with
    range() and choice(); the search space comes from the config alone."""
    runs = []
    for name in ("a", "b"):
        proc = run_app("-m", f"hydra.sweep.dir={tmp_path / name}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        results = yaml.safe_load((tmp_path / name / "optimization_results.yaml").read_text())
        runs.append(results)
        assert results["study_name"] == "sphere" and results["counts"]["complete"] == 20
        params = results["best_params"]
        assert params["y"] in (-5, 0, 5)
        assert params["x"] in [-5.5 + 0.5 * i for i in range(22)]  # range(-5.5, 5.5, 0.5): 5.5 excluded
        assert not (tmp_path / name / "optuna.db").exists()  # storage: null keeps the study in memory
    assert runs[0] == runs[1]  # the seeded sampler makes the sweep reproducible


def test_a_float_range_beside_a_choice_is_drawn_by_the_sampler_not_run_as_a_grid(tmp_path):
    """Upstream's own example: range(-5.5, 5.5, step=0.5) and choice(-5, 0, 5) with TPE, seed 123, 20
    trials. A grid would run its first 20 points in order (x only up to -2.5, best 6.25)."""
    sweep = tmp_path / "tpe"
    proc = run_app(
        "-m",
        "x=range(-5.5,5.5,step=0.5)",
        "y=choice(-5,0,5)",
        "hydra/sweeper/sampler=tpe",
        "hydra.sweeper.sampler.seed=123",
        "hydra.sweeper.n_trials=20",
        f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "search: TPESampler draws 20 trial(s) over x, y (x is a range or interval)" in proc.stdout + proc.stderr
    study = load(f"sqlite:///{sweep}/optuna.db")
    xs = [t.params["x"] for t in study.trials]
    assert len(study.trials) == 20 and max(xs) > -2.5  # not the grid's first 20 points
    assert all(x in [-5.5 + 0.5 * i for i in range(22)] for x in xs)  # the values range() lists
    assert study.best_value <= 1.0


def test_a_sampler_whose_package_is_missing_is_one_line_before_trial_0(tmp_path):
    """cmaes unimportable (a stub that raises ImportError first on the path): one line naming the pip
    install, exit 2, and no trial left RUNNING; with the package (the dev install has it) 20 trials run."""
    stub = tmp_path / "stub" / "cmaes"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('No module named cmaes')\n")
    storage = f"sqlite:///{tmp_path}/cma.db"
    args = ["-m", "x=interval(-5,5)", "y=interval(-5,5)", "hydra/sweeper/sampler=cmaes", "hydra.sweeper.n_trials=20",
            f"hydra.sweeper.storage={storage}", f"hydra.sweep.dir={tmp_path / 'cma'}"]  # fmt: skip
    proc = run_app(*args, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "stub")})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert "needs the package cmaes: pip install 'lstm-ae[cmaes]'" in lines[0]
    assert not optuna.get_all_study_summaries(storage) or not load(storage).trials
    proc = run_app(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [t.state.name for t in load(storage).trials] == ["COMPLETE"] * 20


def test_multi_objective_study_reports_the_pareto_front(tmp_path):
    sweep = tmp_path / "mo"
    proc = run_app(
        "-m",
        "x=interval(-1,3)",
        "y=interval(-1,3)",
        "hydra/sweeper/sampler=nsgaii",
        "hydra.sweeper.sampler.population_size=4",
        "hydra.sweeper.direction=[minimize,minimize]",
        "hydra.sweeper.n_trials=12",
        f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env={"SPHERE_OBJECTIVES": "2"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(f"sqlite:///{sweep}/optuna.db")
    assert len(study.trials) == 12 and all(len(t.values) == 2 for t in study.trials)
    solutions = yaml.safe_load((sweep / "optimization_results.yaml").read_text())["solutions"]
    front = {s["trial"] for s in solutions}
    assert front == {t.number for t in study.best_trials}
    for s in solutions:  # no trial dominates a trial on the front
        assert not any(
            all(a <= b for a, b in zip(t.values, s["values"])) and t.values != s["values"] for t in study.trials
        )
    md = (sweep / "summary.md").read_text()
    assert "Pareto front (minimize, minimize)" in md and "objective_1" in md


def test_a_failing_job_keeps_its_traceback_and_the_sweep_goes_on(tmp_path):
    sweep = tmp_path / "fail"
    proc = run_app(
        "-m",
        "x=1,4,2",
        "y=0",
        f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env={"SPHERE_FAIL_AT": "3"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stderr + proc.stdout
    assert "Traceback (most recent call last)" in log and 'sphere.py", line' in log
    assert "ValueError: x=4.0 is out of range" in log
    study = load(f"sqlite:///{sweep}/optuna.db")
    states = {t.params["x"]: t.state.name for t in study.trials}
    assert states == {1: "COMPLETE", 4: "FAIL", 2: "COMPLETE"}
    failed = next(t for t in study.trials if t.state.name == "FAIL")
    assert failed.user_attrs["reason"] == "ValueError: x=4.0 is out of range"
    assert "ValueError: x=4.0 is out of range" in (sweep / "summary.md").read_text()


def test_grid_sampler_stops_at_n_trials(tmp_path):
    sweep = tmp_path / "grid"
    proc = run_app(
        "-m",
        "hydra/sweeper/sampler=grid",
        "x=1,2,3,4",
        "y=0,1",
        "hydra.sweeper.n_trials=1",
        f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(load(f"sqlite:///{sweep}/optuna.db").trials) == 1
    assert "running 1 of the 8 grid points" in proc.stderr + proc.stdout


def test_grid_of_a_continuous_parameter_is_one_line_error(tmp_path):
    proc = run_app("-m", "hydra/sweeper/sampler=grid", "x=interval(4,8)", f"hydra.sweep.dir={tmp_path}/g", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: x is continuous") and "a grid needs discrete values" in lines[-1]
    assert "Traceback" not in proc.stderr


def test_a_users_sweep_subdir_is_kept(tmp_path):
    sweep = tmp_path / "subdir"
    proc = run_app("-m", "x=1,2", "y=0", "hydra.sweep.subdir=x_${x}", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["x_1", "x_2"]


def test_journal_file_storage_resumes(tmp_path):
    sweep = tmp_path / "journal"
    args = [
        "-m",
        "x=1,2,3",
        "y=0",
        "hydra.sweeper.storage=${hydra.sweep.dir}/optuna.journal",
        f"hydra.sweep.dir={sweep}",
    ]
    proc = run_app(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    def trials():
        storage = JournalStorage(JournalFileBackend(str(sweep / "optuna.journal")))
        return load(storage).trials

    assert sorted(t.params["x"] for t in trials() if t.state.name == "COMPLETE") == [1, 2, 3]
    again = run_app(*args, cwd=tmp_path)  # the same command again: nothing left to run
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(trials()) == 3


def test_a_study_reopened_with_another_direction_is_refused(tmp_path):
    sweep = tmp_path / "dir"
    common = ["-m", "x=1,2", "y=0", f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db", f"hydra.sweep.dir={sweep}"]
    assert run_app(*common, cwd=tmp_path).returncode == 0
    proc = run_app(*common, "hydra.sweeper.direction=maximize", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: hydra.sweeper.direction=['maximize'] but study")


def test_deprecated_search_space_form_still_runs(tmp_path):
    sweep = tmp_path / "legacy"
    proc = run_app(
        "-m",
        "hydra.sweeper.params=null",
        "hydra.sweeper.search_space={x:{type:float,low:-1,high:1},y:{type:categorical,choices:[0,1]}}",
        "hydra.sweeper.n_trials=4",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["counts"]["complete"] == 4 and -1 <= results["best_params"]["x"] <= 1


def test_optuna_dashboard_serves_a_finished_sweeps_study(tmp_path):
    """optuna-dashboard sqlite:///<sweep>/optuna.db, started on localhost, lists the study and its trials."""
    sweep = tmp_path / "dash"
    proc = run_app(
        "-m",
        "x=1,2,3",
        "y=0",
        f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dashboard = REPO / ".venv" / "bin" / "optuna-dashboard"
    exe = str(dashboard) if dashboard.exists() else os.path.join(os.path.dirname(sys.executable), "optuna-dashboard")
    server = subprocess.Popen(
        [exe, f"sqlite:///{sweep}/optuna.db", "--host", "127.0.0.1", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        body = None
        for _ in range(900):  # up to 3 min (a hang guard) for the server to start
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"optuna-dashboard exited: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        assert body is not None, "optuna-dashboard did not answer"
        [study] = body["study_summaries"]
        assert study["study_name"] == "sphere"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{study['study_id']}", timeout=10) as r:
            detail = json.loads(r.read())
        assert sorted(t["params"][0]["param_external_value"] for t in detail["trials"]) == ["1", "2", "3"]
        assert all(t["state"] == "Complete" for t in detail["trials"])
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sweeper_is_listed_once_and_does_not_silence_optuna_warnings(tmp_path):
    proc = run_cli("--info", "plugins", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(re.findall(r"\bLstmAeOptunaSweeper\b", proc.stdout)) == 1
    assert "hydra_optuna_sweeper" not in proc.stdout
    code = (
        "import warnings, optuna\n"
        "import hydra_plugins.lstm_ae_sweeper.sweeper, hydra_plugins.lstm_ae_sweeper.config\n"
        "import lstm_ae.sweep.optuna_sweep, lstm_ae.sweep.summary\n"
        "assert not [f for f in warnings.filters if f[2] is optuna.exceptions.ExperimentalWarning], warnings.filters\n"
    )
    check = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_basic_sweeper_composes_and_runs_the_app(tmp_path):
    sweep = tmp_path / "basic"
    proc = run_cli(
        "-m",
        "hydra/sweeper=basic",
        "dataset=toy",
        "model.hidden=8,16",
        *FAST[:2],
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert json.loads((sweep / job / "result.json").read_text())["status"] == "completed"
    assert not (sweep / "optuna.db").exists()


@pytest.mark.slow
def test_maximize_names_one_best_trial_everywhere(tmp_path):
    """hydra.sweeper.direction=maximize on run.py: the log, optimization_results.yaml and summary.md
    all name the trial with the largest objective."""
    sweep = tmp_path / "max"
    proc = run_cli(
        "-m",
        *FAST,
        "optimizer.lr=0.01,0.05",
        "hydra.sweeper.direction=maximize",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    objectives = {
        d.name: json.loads((d / "result.json").read_text())["objective"] for d in sweep.iterdir() if d.name.isdigit()
    }
    best = max(objectives, key=objectives.get)
    assert objectives[best] > min(objectives.values())
    assert re.search(rf"Best trial {best}: value", proc.stderr + proc.stdout)
    assert yaml.safe_load((sweep / "optimization_results.yaml").read_text())["best_trial"] == int(best)
    assert f"**Best trial: {best}**" in (sweep / "summary.md").read_text()


def test_a_users_app_prunes_through_the_public_helper_with_joblib(tmp_path):
    """tests/examples/pruned.py reports a loss per epoch through lstm_ae.sweep.pruning.current_trial; with
    a median pruner and two joblib workers, trials far from the best stop early as PRUNED."""
    app = REPO / "tests" / "examples" / "pruned.py"
    storage = f"sqlite:///{tmp_path}/pruned.db"
    args = ["-m", "x=interval(-4,4)", "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=2",
            "hydra.sweeper.pruner.n_warmup_steps=1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
            "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=12", "hydra.sweeper.sampler.seed=0",
            f"hydra.sweeper.storage={storage}", f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    proc = subprocess.run([sys.executable, str(app), *args], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = load(storage).trials
    states = [t.state.name for t in trials]
    assert len(trials) == 12 and "PRUNED" in states and "COMPLETE" in states, states
    for t in trials:
        steps = len(t.intermediate_values)
        assert (steps < 8) if t.state.name == "PRUNED" else (steps == 8)
    alone = subprocess.run([sys.executable, str(app), "x=1"], cwd=tmp_path, capture_output=True, text=True)
    assert alone.returncode == 0  # outside a sweep the reports go nowhere


def test_a_rerun_without_a_study_name_continues_its_study_to_n_trials(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    args = ["-m", "x=interval(-5,5)", "y=interval(-5,5)", "hydra.sweeper.study_name=null",
            f"hydra.sweeper.storage={storage}", f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    assert run_app(*args, "hydra.sweeper.n_trials=4", cwd=tmp_path).returncode == 0
    again = run_app(*args, "hydra.sweeper.n_trials=6", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "holds 4 finished trial(s); running 2 more to reach hydra.sweeper.n_trials=6" in again.stdout + again.stderr
    assert len(optuna.get_all_study_summaries(storage)) == 1 and len(load(storage).trials) == 6


def test_custom_search_space_is_drawn_and_fixed_parameters_are_user_attrs(tmp_path):
    """As upstream: a custom space with choice-only params runs n_trials sampled trials (no grid), each
    with the custom parameter, and the fixed parameters in user_attrs; params beside the deprecated
    search_space warns (a UserWarning, shown by default) and uses params."""
    storage = f"sqlite:///{tmp_path}/c.db"
    proc = run_app(
        "-m", "x=choice(0,1)", "y=2", "hydra.sweeper.n_trials=6", "hydra.sweeper.custom_search_space=custom_space.extra",
        "+hydra.sweeper.search_space={x:{type:float,low:-1,high:1}}",
        f"hydra.sweeper.storage={storage}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path, env={"PYTHONPATH": str(SPHERE.parent)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "UserWarning: hydra.sweeper.params and the deprecated hydra.sweeper.search_space are both set" in proc.stderr
    trials = load(storage).trials
    assert len(trials) == 6 and all(set(t.params) == {"x", "z"} for t in trials)
    assert all(t.params["x"] in (0, 1) for t in trials)  # params' choice, not search_space's interval
    assert all(t.user_attrs["y"] == "2" for t in trials)


def test_callbacks_see_every_finished_trial_and_may_stop_the_sweep(tmp_path):
    sweep, seen = tmp_path / "sphere", tmp_path / "trials.jsonl"
    callbacks = (
        f"hydra.sweeper.callbacks=[{{_target_:callbacks.TrialLog,path:'{seen}'}},"
        "{_target_:callbacks.broken,_partial_:true},"
        "{_target_:optuna.study.MaxTrialsCallback,n_trials:4}]"
    )
    storage = f"sqlite:///{sweep}/optuna.db"
    args = ["-m", "x=-1,0,1", "y=-1,0,1", f"hydra.sweeper.storage={storage}", f"hydra.sweep.dir={sweep}"]
    proc = run_app(*args, callbacks, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = load(storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4  # MaxTrialsCallback stopped a 9-point grid
    lines = [json.loads(line) for line in seen.read_text().splitlines()]
    assert [(x["number"], x["value"]) for x in lines] == [(t.number, t.value) for t in study.trials]
    log = proc.stdout + proc.stderr
    assert log.count("callbacks.broken failed on trial") == 4 and "stopped by hydra.sweeper.callbacks" in log
    bad = run_app(*args[:-1], f"hydra.sweep.dir={tmp_path / 'bad'}", "hydra.sweeper.callbacks=[{_target_:nope.Nope}]",
                  cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith(
        "error: hydra.sweeper.callbacks: nope.Nope cannot be built"
    )


def test_our_calls_raise_no_hydra_or_optuna_warning_with_warnings_as_errors(tmp_path):
    """Every warning an error (as `python -W error`): a pruned sweep of a plain app and of run.py, with the
    joblib launcher, pass on the installed Hydra (1.3.x in CI; checked on 1.4's release candidate by hand,
    see docs/sweeps.md). Hydra 1.4 deprecates version_base and unlisted instantiate targets."""
    strict = {"PYTHONWARNINGS": "error"}
    app = run_app("-m", "x=interval(-5,5)", "y=choice(0,1)", "hydra.sweeper.n_trials=3", "hydra/sweeper/pruner=median",
                  f"hydra.sweep.dir={tmp_path / 'app'}", cwd=tmp_path, env=strict)  # fmt: skip
    assert app.returncode == 0 and "Warning" not in app.stderr, app.stderr[-3000:]
    ours = run_cli("-m", *FAST, "process.threads=1", "model.hidden=4,8", "hydra/sweeper/pruner=median",
                   "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
                   f"hydra.sweep.dir={tmp_path / 'ours'}", cwd=tmp_path, env=strict)  # fmt: skip
    assert ours.returncode == 0 and "Warning" not in ours.stderr, ours.stderr[-3000:]


def test_a_submitit_job_ended_without_a_result_is_a_failed_trial_and_runs_again_next_time(tmp_path):
    """hydra/launcher=submitit_local, one job of the batch SIGKILLed (as scancel or a time limit end a SLURM
    job): that trial is FAIL with the job's state as its reason, the batch's other result is recorded, the
    summary is written; the same command again runs the interrupted point, in its folder, and completes."""
    sweep = tmp_path / "sweep"
    args = ["-m", "x=1,2", "y=0", "hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2",
            "hydra.sweeper.max_failure_rate=1", f"hydra.sweep.dir={sweep}",
            f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db"]  # fmt: skip
    first = run_app(*args, cwd=tmp_path, env={"SPHERE_KILL_AT": "1.5"})
    assert first.returncode in (0, 3), first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    study = load(f"sqlite:///{sweep}/optuna.db")
    by_x = {t.params["x"]: t for t in study.trials}
    assert by_x[1].state.name == "COMPLETE" and by_x[1].value == 1
    assert by_x[2].state.name == "FAIL"
    assert "ended without a result" in by_x[2].user_attrs["reason"]
    assert by_x[2].user_attrs["interrupted"]
    assert "1 failed" in (sweep / "summary.md").read_text()
    again = run_app(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    study = load(f"sqlite:///{sweep}/optuna.db")
    done = sorted((t.params["x"], t.value) for t in study.trials if t.state.name == "COMPLETE")
    assert done == [(1, 1.0), (2, 4.0)] and len(study.trials) == 3  # the killed point once more, nothing else
