"""lstm_ae.run.runtime: with other busy processes on the machine, runs take the PASSIVE OpenMP wait policy
and as many threads as the others leave free (at least 1), and say so; a user's settings always win.
The busy processes here are real (pure-Python spin loops, one per core)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from conftest import REPO, run_cli
from lstm_ae.run import runtime as process


@contextlib.contextmanager
def busy_machine():
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(process.usable_cores())]
    try:
        yield
    finally:
        for s in spinners:
            s.kill()
            s.wait()


def _policy(env: dict, code: str = "import lstm_ae; lstm_ae.fit") -> str:
    """OMP_WAIT_POLICY after running code in a fresh interpreter (default: the first use of the API)."""
    code += "; import os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_busy_cores_are_counted_and_threads_follow():
    with busy_machine():
        busy = process.busy_cores()
        threads, note = process.auto_threads()
    assert busy >= 0.5 * process.usable_cores()
    assert threads == max(1, process.usable_cores() - round(busy))
    assert "other processes keep" in note and f"training with {threads} thread(s)" in note


def test_wait_policy_is_passive_on_a_busy_machine_unless_the_user_set_one():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    with busy_machine():
        assert _policy(env) == "PASSIVE"
        assert _policy({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
        assert _policy(env, "import torch, lstm_ae; lstm_ae.fit") == "unset"  # too late once torch is loaded


def test_importing_the_package_changes_no_setting():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = (
        "import matplotlib, os, sys; before = dict(matplotlib.rcParams); backend = matplotlib.get_backend(); "
        "import lstm_ae, lstm_ae.figures.runs, lstm_ae.sweep.summary, lstm_ae.run.experiment; "
        "assert dict(matplotlib.rcParams) == before, 'rcParams changed'; "
        "assert matplotlib.get_backend() == backend, 'backend changed'; "
        "assert 'OMP_WAIT_POLICY' not in os.environ, 'wait policy set'; print('unchanged')"
    )
    with busy_machine():
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "unchanged", out.stderr[-1500:]


@pytest.mark.slow
def test_a_run_on_a_busy_machine_trains_with_the_free_cores_and_says_so(tmp_path):
    with busy_machine():
        proc = run_cli(
            "dataset.size=300", "trainer.epochs=1", "model.hidden=8", f"hydra.run.dir={tmp_path}", cwd=tmp_path
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = (tmp_path / "run.log").read_text()
    assert "other processes keep" in log
    expected = max(1, process.usable_cores() - process.usable_cores())  # every core was taken: 1
    assert f"threads={expected} " in log
    explicit = run_cli("dataset.size=300", "trainer.epochs=1", "model.hidden=8", "process.threads=2",
                       f"hydra.run.dir={tmp_path}/explicit", cwd=tmp_path)  # fmt: skip
    assert explicit.returncode == 0 and "threads=2 " in (tmp_path / "explicit" / "run.log").read_text()
