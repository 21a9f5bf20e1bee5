"""Sweeps on a real one-node SLURM cluster with hydra/launcher=submitit_slurm (.ci/slurm starts one on
127.0.0.1 with accounting and exports LSTM_AE_SLURM=1 and LSTM_AE_SLURM_PARTITION). Skipped without a
cluster, except where LSTM_AE_REQUIRE_SLURM=1 (CI): then they fail. A job cancelled mid-trial and a job
over its time limit are failed trials naming the SLURM state; the same command again completes the
sweep; a request no node can meet is one line before anything is submitted."""

import json
import os
import shutil
import subprocess
import sys
import time

import optuna
import pytest

from conftest import REPO

SPHERE = REPO / "tests" / "examples" / "sphere.py"


@pytest.fixture(scope="module")
def partition() -> str:
    if os.environ.get("LSTM_AE_SLURM") != "1" or shutil.which("sbatch") is None:
        message = "no SLURM cluster (LSTM_AE_SLURM=1 and sbatch): see .ci/slurm"
        if os.environ.get("LSTM_AE_REQUIRE_SLURM") == "1":
            pytest.fail(message + "; LSTM_AE_REQUIRE_SLURM=1 forbids skipping")
        pytest.skip(message)
    return os.environ.get("LSTM_AE_SLURM_PARTITION", "debug")


def args(sweep, partition: str, *extra: str) -> list[str]:
    return ["-m", "x=1,2", "y=0", "hydra/launcher=submitit_slurm", f"hydra.launcher.partition={partition}",
            "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=10",
            "hydra.sweeper.n_jobs=2", "hydra.sweeper.max_failure_rate=1", f"hydra.sweep.dir={sweep}",
            f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db", *extra]  # fmt: skip


def start(cmd: list[str], cwd, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SPHERE), *cmd], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})  # fmt: skip


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the sweep did not end in {timeout} s: {err[-3000:]}")
    return proc.returncode, err


def trials_of(sweep) -> list[optuna.trial.FrozenTrial]:
    storage = f"sqlite:///{sweep}/optuna.db"
    name = optuna.get_all_study_summaries(storage)[0].study_name
    return optuna.load_study(study_name=name, storage=storage).trials


def study_of(sweep) -> dict[float, optuna.trial.FrozenTrial]:
    return {t.params["x"]: t for t in trials_of(sweep)}


def slurm_job_of(pids, x: float, timeout: float = 120) -> str:
    """The SLURM job id of the trial with this x, once its job is running it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for f in pids.iterdir():
            fields = f.read_text().split()
            if len(fields) == 3 and float(fields[0]) == x:
                return fields[2]
        time.sleep(0.2)
    pytest.fail(f"no SLURM job ran x={x} within {timeout} s")


def rerun_completes(cmd: list[str], sweep, cwd) -> None:
    code, err = finish(start(cmd, cwd))
    assert code == 0, err[-3000:]
    trials = study_of(sweep)
    assert {x: t.state.name for x, t in trials.items()} == {1.0: "COMPLETE", 2.0: "COMPLETE"}
    assert trials[2.0].value == 4.0


def test_a_job_cancelled_mid_trial_is_a_failed_trial_and_the_same_command_completes_it(partition, tmp_path):
    sweep, pids = tmp_path / "sweep", tmp_path / "pids"
    pids.mkdir()
    cmd = args(sweep, partition)
    proc = start(cmd, tmp_path, {"SPHERE_HANG_AT": "1.5", "SPHERE_PIDS": str(pids)})
    job = slurm_job_of(pids, 2.0)
    subprocess.run(["scancel", job], check=True)
    code, err = finish(proc)
    assert code in (0, 3) and "Traceback" not in err, err[-3000:]
    trials = study_of(sweep)
    assert trials[1.0].state.name == "COMPLETE" and trials[1.0].value == 1.0  # the batch's other result is kept
    failed = trials[2.0]
    assert failed.state.name == "FAIL" and failed.user_attrs["reason"].startswith("CANCELLED: job "), failed.user_attrs
    assert failed.user_attrs["interrupted"] == "CANCELLED"
    print(f"exit {code}; x=2: {failed.user_attrs['reason']}")
    summary = (sweep / "summary.md").read_text()
    assert "1 failed" in summary, summary + err[-3000:]
    accounted = subprocess.run(["sacct", "-n", "-X", "-P", "-j", job, "-o", "JobID,State"], capture_output=True,
                               text=True).stdout.splitlines()  # fmt: skip
    assert [f"{job}|CANCELLED"] == [line.split(" ")[0] for line in accounted], accounted  # as SLURM recorded it
    rerun_completes(cmd, sweep, tmp_path)


def test_a_training_over_its_time_limit_is_a_timeout_and_the_same_command_resumes_it(partition, tmp_path):
    """run.py on SLURM with hydra-submitit-launcher's max_num_timeout=0 (its default): at its time limit's
    signal submitit ends the job without requeuing it (SLURM calls it FAILED); the
    trial is FAIL TIMEOUT, no failed result.json is left, and the same command without the short limit
    resumes the training from its last.pt and completes it."""
    from conftest import run_cli

    sweep = tmp_path / "sweep"
    cmd = ["-m", "dataset=toy", "dataset.size=2000", "model.hidden=choice(8)", "trainer.epochs=800", "process.threads=1",
           "hydra/launcher=submitit_slurm", f"hydra.launcher.partition={partition}", "hydra.launcher.cpus_per_task=1",
           "hydra.launcher.mem_gb=2", f"hydra.sweep.dir={sweep}", f"hydra.sweeper.storage=sqlite:///{sweep}/optuna.db",
           "hydra.sweeper.max_failure_rate=1"]  # fmt: skip
    started = time.time()
    # SLURM checks time limits every 30 s; the signal comes once at most signal_delay_s are left, so
    # 45 s before a 1-minute limit is 15-45 s in: after the first epochs (last.pt), before the 800th
    first = run_cli(*cmd, "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=45", cwd=tmp_path)
    print(f"sweep with a timed-out training ended after {time.time() - started:.0f} s")
    assert first.returncode in (0, 3) and "Traceback" not in first.stderr, first.stderr[-3000:]
    (trial,) = trials_of(sweep)
    assert trial.state.name == "FAIL" and trial.user_attrs["interrupted"] == "TIMEOUT", trial.user_attrs
    print(f"exit {first.returncode}; {trial.user_attrs['reason']}")
    run = sweep / "0"
    assert (run / "last.pt").is_file() and not (run / "result.json").exists()  # unfinished, not failed
    again = run_cli(*cmd, "hydra.launcher.timeout_min=10", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    log = (run / "run.log").read_text()
    assert "resuming from" in log and "after epoch" in log, log[-3000:]
    assert [p.name for p in sweep.iterdir() if p.name.isdigit()] == ["0"]  # in its own folder
    result = json.loads((run / "result.json").read_text())
    assert result["status"] in ("completed", "early_stopped"), result


def test_a_request_no_node_can_meet_is_one_line_before_anything_is_submitted(partition, tmp_path):
    from lstm_ae.sweep.launch import slurm_nodes

    most = max(n.cpus for n in slurm_nodes() if n.partition == partition)
    sweep = tmp_path / "sweep"
    code, err = finish(start(args(sweep, partition, f"hydra.launcher.cpus_per_task={most + 62}"), tmp_path))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"error: hydra.launcher.cpus_per_task={most + 62}: no node of SLURM partition {partition} has "
        f"{most + 62} CPUs; the most is {most}"
    )
    assert not (sweep / ".submitit").exists() and not (sweep / "optuna.db").exists()  # nothing submitted
    code, err = finish(start(args(sweep, partition, "hydra.launcher.partition=nope"), tmp_path))
    assert code == 2 and err.strip().splitlines()[-1].startswith(
        f"error: hydra.launcher.partition=nope: no such SLURM partition; there are: {partition}"
    )


def test_every_request_is_checked_against_the_nodes_of_its_partition():
    """No cluster needed: the check reads sinfo's nodes; here two partitions of made-up nodes."""
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
    from lstm_ae.sweep.launch import LaunchConfigError, Node, check_resources

    nodes = [Node("cpu", "c1", 64, 256_000, 0, True), Node("cpu", "c2", 32, 512_000, 0, True),
             Node("gpu", "g1", 16, 128_000, 4, False)]  # fmt: skip

    def check(**params):
        check_resources(SlurmLauncher(submitit_folder="x", **params), nodes)

    check(cpus_per_task=64, mem_gb=200)  # c1
    check(partition="gpu", gpus_per_node=4, cpus_per_task=4, tasks_per_node=4)
    refused = {
        "hydra.launcher.gpus_per_node=1: no node of SLURM partition cpu has 1 GPUs; the most is 0": {"gpus_per_node": 1},
        "hydra.launcher.cpus_per_task=8 (4 tasks per node): no node of SLURM partition gpu has 32 CPUs; the most is 16":
            {"partition": "gpu", "cpus_per_task": 8, "tasks_per_node": 4},
        "hydra.launcher.mem_gb=600: no node of SLURM partition cpu has 614400 MB of memory; the most is 512000":
            {"mem_gb": 600},
        "hydra.launcher: cpus_per_task=64 mem_gb=400 gpus_per_node=None: no single node of SLURM partition cpu has "
        "all of it": {"cpus_per_task": 64, "mem_gb": 400},
        "hydra.launcher.nodes=3: SLURM partition cpu has 2 node(s) that fit the request": {"nodes": 3},
        "hydra.launcher.partition=big: no such SLURM partition; there are: cpu, gpu": {"partition": "big"},
    }  # fmt: skip
    for message, params in refused.items():
        with pytest.raises(LaunchConfigError) as caught:
            check(**params)
        assert str(caught.value) == message
    check_resources(LocalLauncher(submitit_folder="x", cpus_per_task=999), nodes)  # not SLURM: nothing to check
