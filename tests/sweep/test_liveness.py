"""Sweeps across hosts, containers and kills: trials whose sweep process died are found by heartbeat and
run again, a resumed seeded sampler does not replay itself, workers die with the sweep process, and a
failing storage is one honest line. Every sweep here is real (tests/examples/sphere.py through Hydra's
multirun, a real Optuna study in SQLite or a journal file); another host is played with LSTM_AE_HOST,
and grace periods are a few seconds (the defaults are 60 s / 180 s)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import optuna
import pytest

from conftest import REPO
from lstm_ae.sweep.liveness import OWNER_PID_NS, Liveness, pid_namespace, this_host
from lstm_ae.sweep.storage import open_storage

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them

SPHERE = REPO / "tests" / "examples" / "sphere.py"
BEAT_S, GRACE_S = 1, 3
FAST_BEAT = [f"hydra.sweeper.heartbeat_interval={BEAT_S}", f"hydra.sweeper.grace_period={GRACE_S}"]
HANG_GUARD_S = 1800


def sphere(*args: str, cwd: Path, env: dict | None = None, popen: bool = False):
    cmd = [sys.executable, str(SPHERE), "-m", *args]
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    if popen:
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=HANG_GUARD_S)


def spec(kind: str, sweep: Path) -> str:
    return f"sqlite:///{sweep}/optuna.db" if kind == "sqlite" else str(sweep / "optuna.journal")


def storage_arg(kind: str, sweep: Path) -> str:
    return f"hydra.sweeper.storage={spec(kind, sweep)}"


def open_study(kind: str, sweep: Path):
    """(study, the storage object under it), as a sweep process with a 1 s heartbeat opens them."""
    sweep.mkdir(parents=True, exist_ok=True)
    storage = open_storage(spec(kind, sweep), (BEAT_S, GRACE_S))
    return optuna.create_study(study_name="sphere", storage=storage, load_if_exists=True), storage


def trials(kind: str, sweep: Path) -> list[optuna.trial.FrozenTrial]:
    return open_study(kind, sweep)[0].trials


def n_in_state(kind: str, sweep: Path, state: str) -> int:
    try:
        return sum(t.state.name == state for t in trials(kind, sweep))
    except Exception:  # noqa: BLE001  (not created yet, or being created by the sweep)
        return 0


def wait_until(predicate, what: str) -> None:
    deadline = time.time() + HANG_GUARD_S  # a hang guard only
    while not predicate():
        assert time.time() < deadline, f"hang guard: {what}"
        time.sleep(0.2)


def claim(kind: str, sweep: Path, x: int, host: str, pid: int):
    """A RUNNING trial for grid point x, claimed (and beaten once) as a sweep process on `host` with `pid`
    claims it. Returns (study, trial, liveness)."""
    study, storage = open_study(kind, sweep)
    study.enqueue_trial({"x": x}, user_attrs={"grid_point": json.dumps({"x": str(x)})})
    with warnings.catch_warnings():  # Optuna: heartbeats are meant for optimize(); a sweep beats itself
        warnings.simplefilter("ignore", UserWarning)
        trial = study.ask()
    assert trial.suggest_categorical("x", [1, 2, 3]) == x
    liveness = Liveness(storage, BEAT_S, GRACE_S)
    liveness.beat(study, trial.number)
    for key, value in {"sweeper_host": host, "sweeper_pid": pid, "heartbeat_interval": BEAT_S}.items():
        trial.set_user_attr(key, value)
    return study, trial, liveness


def complete_points(kind: str, sweep: Path) -> list:
    return sorted(t.params["x"] for t in trials(kind, sweep) if t.state.name == "COMPLETE")


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (FileNotFoundError, IndexError):
        return False


# -- heartbeats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, owner",
    [("sqlite", "another host, pid 1"), ("journal", "this host, a live pid (a restarted container)")],
)
def test_a_trial_whose_heartbeat_stops_is_failed_and_run_again_even_when_host_and_pid_look_alive(tmp_path, kind, owner):
    """A trial claimed by a sweep process that then died: on another host with pid 1 (alive everywhere),
    or on this host with a pid that is alive here (the pytest process: a reused pid, as in a restarted
    container). Its heartbeat stopped, so the sweep fails it once the grace period has passed, runs its
    grid point again and ends with every point COMPLETE."""
    sweep = tmp_path / kind
    host, pid = ("node-a", 1) if owner.startswith("another") else (this_host(), os.getpid())
    _, dead, _ = claim(kind, sweep, 3, host, pid)
    beaten_at = time.time()
    proc = sphere("x=1,2,3", "y=0", storage_arg(kind, sweep), f"hydra.sweep.dir={sweep}", *FAST_BEAT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert complete_points(kind, sweep) == [1, 2, 3]
    old = next(t for t in trials(kind, sweep) if t.number == dead.number)
    assert old.state.name == "FAIL" and "status" not in old.user_attrs  # failed as stale, not as a result
    assert old.datetime_complete.timestamp() - beaten_at >= GRACE_S - 1  # after the grace period, not at once
    assert f"trial {dead.number} marked FAIL: no heartbeat from {host} (pid {pid})" in proc.stdout + proc.stderr


def test_a_trial_that_keeps_beating_is_waited_for_not_taken_over(tmp_path):
    """Another sweep process (played by a thread here) runs grid point 3 for longer than the grace period
    and beats all along: the sweep runs the other points, waits for it, never fails it or runs it itself,
    and ends when it is COMPLETE."""
    sweep = tmp_path / "partner"
    study, partner, liveness = claim("sqlite", sweep, 3, "node-a", 4242)

    def partner_runs():
        with liveness.beating([partner.number]):
            wait_until(lambda: n_in_state("sqlite", sweep, "COMPLETE") == 2, "the sweep's own points")
            time.sleep(2 * GRACE_S)  # the sweep has nothing else to run: it waits past a grace period
        study.tell(partner, 9.0)

    thread = threading.Thread(target=partner_runs)
    thread.start()
    proc = sphere("x=1,2,3", "y=0", storage_arg("sqlite", sweep), f"hydra.sweep.dir={sweep}", *FAST_BEAT, cwd=tmp_path)
    thread.join()
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert f"waiting for trial(s) {partner.number} running in other sweep processes (node-a pid 4242)" in log
    final = trials("sqlite", sweep)
    assert [t.state.name for t in final] == ["COMPLETE"] * 3  # nothing failed, nothing run twice
    assert next(t for t in final if t.number == partner.number).value == 9.0


def test_a_sweep_killed_and_resumed_under_another_host_name_completes_every_grid_point(tmp_path):
    """The cluster case: the sweep dies on node-a (SIGKILL while a trial runs); the same command on node-b,
    started at once (the dead trial's heartbeat is still fresh), runs the rest, waits for the dead trial to
    go stale, runs it again in its own folder and exits 0 with the whole grid COMPLETE."""
    sweep = tmp_path / "cluster"
    args = ["x=1,2,3", "y=0", storage_arg("sqlite", sweep), f"hydra.sweep.dir={sweep}", *FAST_BEAT]
    first = sphere(*args, cwd=tmp_path, env={"LSTM_AE_HOST": "node-a", "SPHERE_SLEEP": "2"}, popen=True)
    wait_until(lambda: (sweep / "1").is_dir(), "the second trial's job")  # claimed, in its folder, training
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    [dead] = [t for t in trials("sqlite", sweep) if t.state.name == "RUNNING"]
    assert dead.user_attrs["sweeper_host"] == "node-a"

    rerun = sphere(*args, cwd=tmp_path, env={"LSTM_AE_HOST": "node-b"})
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert complete_points("sqlite", sweep) == [1, 2, 3]
    final = trials("sqlite", sweep)
    assert next(t for t in final if t.number == dead.number).state.name == "FAIL"
    again = next(t for t in final if t.state.name == "COMPLETE" and t.params["x"] == dead.params["x"])
    assert again.user_attrs["sweeper_host"] == "node-b"
    assert again.user_attrs["run_dir"] == dead.user_attrs["run_dir"]  # resumed in the dead trial's folder


def test_a_surviving_sweeper_runs_its_dead_partners_trial(tmp_path):
    """Two sweep processes share one study; one is SIGKILLed while its trial runs. The survivor notices
    it while still sweeping (not only at start-up), runs that point again and exits 0: every point
    COMPLETE, nothing RUNNING, each point complete exactly once."""
    sweep = tmp_path / "pair"
    points = "x=1,2,3,4,5,6"
    args = [points, "y=0", storage_arg("journal", sweep), f"hydra.sweep.dir={sweep}", *FAST_BEAT]
    env = {"SPHERE_SLEEP": "2"}
    victim = sphere(*args, cwd=tmp_path, env=env, popen=True)
    survivor = sphere(*args, cwd=tmp_path, env=env, popen=True)

    def victim_running():
        return any(
            t.state.name == "RUNNING" and t.user_attrs.get("sweeper_pid") == victim.pid
            for t in trials("journal", sweep)
        )

    wait_until(lambda: os.path.exists(sweep / "optuna.journal") and victim_running(), "the victim's trial")
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    err = survivor.communicate(timeout=HANG_GUARD_S)[1]
    assert survivor.returncode == 0, err[-3000:]
    final = trials("journal", sweep)
    done = sorted(t.params["x"] for t in final if t.state.name == "COMPLETE")
    assert done == [1, 2, 3, 4, 5, 6]
    assert not [t for t in final if t.state.name in ("RUNNING", "WAITING")]
    assert [t for t in final if t.state.name == "FAIL" and t.user_attrs.get("sweeper_pid") == victim.pid]


def test_heartbeat_settings_are_checked_before_any_trial(tmp_path):
    proc = sphere(
        "x=1,2",
        "y=0",
        "hydra.sweeper.heartbeat_interval=60",
        "hydra.sweeper.grace_period=30",
        f"hydra.sweep.dir={tmp_path / 'bad'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: hydra.sweeper.grace_period=30 must be larger than hydra.sweeper.heartbeat_interval=60"
    )
    assert "Traceback" not in proc.stderr and not (tmp_path / "bad" / "0").exists()


# -- a resumed seeded sampler -----------------------------------------------------------------------


def test_a_seeded_sampler_resumed_after_a_kill_neither_replays_nor_loses_configurations(tmp_path):
    """TPE with seed 0, 8 trials asked 2 at a time; SIGKILL after 3 complete, then the same command: 8
    distinct configurations complete (the restarted sampler does not replay trials 0 and 1), and every
    configuration the kill interrupted is run again rather than dropped."""
    sweep = tmp_path / "seeded"
    args = [
        "x=interval(-5,5)",
        "y=interval(-5,5)",
        "hydra.sweeper.params=null",
        "hydra.sweeper.sampler.seed=0",
        "hydra.sweeper.n_trials=8",
        "hydra.sweeper.n_jobs=2",
        storage_arg("sqlite", sweep),
        f"hydra.sweep.dir={sweep}",
        *FAST_BEAT,
    ]
    first = sphere(*args, cwd=tmp_path, env={"SPHERE_SLEEP": "1"}, popen=True)
    wait_until(lambda: n_in_state("sqlite", sweep, "COMPLETE") >= 3, "three trials")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    interrupted = [t.params for t in trials("sqlite", sweep) if t.state.name == "RUNNING" and t.params]

    rerun = sphere(*args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    done = [(t.params["x"], t.params["y"]) for t in trials("sqlite", sweep) if t.state.name == "COMPLETE"]
    assert len(done) == 8 and len(set(done)) == 8, done
    for params in interrupted:
        assert (params["x"], params["y"]) in done


# -- workers die with the sweep process --------------------------------------------------------------


def test_joblib_workers_stop_when_the_sweep_process_is_killed(tmp_path):
    """SIGKILL only the sweep's main process (as the OOM killer does) while two joblib workers run 300 s
    trials: both workers are gone long before their trials could end (the check waits at most a hang
    guard, so a busy machine cannot fail it), instead of training on as orphans."""
    sweep, pids = tmp_path / "orphans", tmp_path / "pids"
    pids.mkdir()
    main = sphere(
        "x=1,2",
        "y=0",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        storage_arg("sqlite", sweep),
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        env={"SPHERE_SLEEP": "300", "SPHERE_PIDS": str(pids)},
        popen=True,
    )
    try:
        wait_until(lambda: len(list(pids.iterdir())) == 2, "two workers running trials")
        workers = [int(p.name) for p in pids.iterdir()]
        assert main.pid not in workers and all(alive(w) for w in workers)
        os.kill(main.pid, signal.SIGKILL)  # the main process only, not its process group
        main.wait()
        killed_at = time.time()
        deadline = killed_at + 120  # a hang guard: far below the 300 s the trials would train
        while any(alive(w) for w in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not [w for w in workers if alive(w)], "orphaned workers still training"
        print(f"workers gone {time.time() - killed_at:.1f} s after the SIGKILL")
    finally:
        with_group = main.pid
        try:
            os.killpg(with_group, signal.SIGKILL)
        except ProcessLookupError:
            pass


# -- a failing storage ------------------------------------------------------------------------------


def read_only_tools() -> None:
    if os.geteuid() == 0 and shutil.which("chattr") is None:
        pytest.skip("root writes through file modes, and chattr (to make the study immutable) is missing")


def writable_again(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=False)
    else:
        path.parent.chmod(0o755)
        path.chmod(0o644)


def test_a_study_that_goes_read_only_during_a_trial_is_one_honest_line(tmp_path):
    """The study's SQLite file turns read-only while trial 0 runs (the job freezes it, as a disk remounted
    read-only would). The sweep says in one line that recording trial 0 failed, with SQLite's own reason,
    and that the study still shows it RUNNING (true: checked after); it then stops with one line, exit 4,
    no traceback. Once the file is writable again, the same command finishes the grid."""
    read_only_tools()
    db_dir, sweep = tmp_path / "db", tmp_path / "sweep"
    db_dir.mkdir()
    db = db_dir / "optuna.db"
    args = ["x=1,2", "y=0", f"hydra.sweeper.storage=sqlite:///{db}", f"hydra.sweep.dir={sweep}"]
    try:
        proc = sphere(*args, cwd=tmp_path, env={"SPHERE_FREEZE": str(db)})
    finally:
        writable_again(db)
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    record = next(line for line in (proc.stdout + proc.stderr).splitlines() if "could not record trial 0" in line)
    cause = record.split(f"in sqlite:///{db}: ", 1)[1].split(";")[0]
    assert cause in ("attempt to write a readonly database", "disk I/O error", "unable to open database file"), record
    assert record.endswith("the study still shows it RUNNING")
    assert lines[-1] == (
        f"error: reading the study in sqlite:///{db} failed: {cause}; "
        "finished trials are kept: fix the storage and run the same command again"
    )
    study = optuna.load_study(study_name="sphere", storage=f"sqlite:///{db}")
    assert [t.state.name for t in study.trials] == ["RUNNING"]  # what the line said

    rerun = sphere(*args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    study = optuna.load_study(study_name="sphere", storage=f"sqlite:///{db}")
    assert sorted(t.params["x"] for t in study.trials if t.state.name == "COMPLETE") == [1, 2]


def test_a_read_only_study_is_one_line_before_any_trial(tmp_path):
    read_only_tools()
    sweep = tmp_path / "ro"
    args = ["x=1,2", "y=0", storage_arg("sqlite", sweep), f"hydra.sweep.dir={sweep}"]
    assert sphere(*args, "hydra.sweeper.n_trials=1", cwd=tmp_path).returncode == 0  # point 1 done
    db = sweep / "optuna.db"
    try:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(db)], check=True)
        else:
            db.chmod(0o444)
        proc = sphere(*args, cwd=tmp_path)
    finally:
        writable_again(db)
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: opening the study in sqlite:///{db} failed: attempt to write a readonly database; "
        "finished trials are kept: fix the storage and run the same command again"
    )
    assert not (sweep / "1").exists()


# -- PID namespaces --------------------------------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("same_namespace", [True, False])
def test_a_dead_pid_fails_a_trial_at_once_only_when_its_owner_shares_this_pid_namespace(tmp_path, same_namespace):
    """Same host name, a pid that is gone here: in this PID namespace the trial is failed at once; recorded
    from another namespace (a container sharing the host's name) that pid says nothing, so the trial is left
    to its heartbeat, which still beats."""
    study, trial, liveness = claim("sqlite", tmp_path / "s", 1, this_host(), dead_pid())
    trial.set_user_attr(OWNER_PID_NS, pid_namespace() if same_namespace else "another-boot:4026531836")
    failed = liveness.fail_stale(study)
    assert failed == ([trial.number] if same_namespace else [])
    state = next(t for t in study.get_trials() if t.number == trial.number).state.name
    assert state == ("FAIL" if same_namespace else "RUNNING")


def test_a_process_in_its_own_pid_namespace_records_another_namespace():
    """unshare -fp --mount-proc (as a container): the namespace id a sweep process records there differs
    from this one's, and its pids mean nothing here."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root")
    code = "from lstm_ae.sweep.liveness import pid_namespace; import os; print(pid_namespace(), os.getpid())"
    out = subprocess.run(
        ["unshare", "-fp", "--mount-proc", sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    inside, pid = out.stdout.split()
    assert pid == "1" and inside != pid_namespace()
    assert inside.split(":")[0] == pid_namespace().split(":")[0]  # same boot: only the namespace differs


def test_sweepers_inside_and_outside_a_pid_namespace_never_run_a_point_twice(tmp_path):
    """One sweeper in unshare -fp --mount-proc (a container with the host's name), one outside, on one
    study and one sweep folder, each trial seconds long: neither takes the other's live trials for dead
    (its pids are not visible here, so only the heartbeat decides), so every point runs once."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root")
    sweep = tmp_path / "shared"
    args = ["x=1,2,3,4", "y=0", storage_arg("sqlite", sweep), f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "SPHERE_SLEEP": "2"}
    inside = subprocess.Popen(["unshare", "-fp", "--mount-proc", sys.executable, str(SPHERE), "-m", *args],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    wait_until(lambda: n_in_state("sqlite", sweep, "RUNNING") >= 1, "the sweeper inside running a trial")
    outside = sphere(*args, cwd=tmp_path, env={"SPHERE_SLEEP": "2"})
    _, inside_err = inside.communicate(timeout=HANG_GUARD_S)
    assert (inside.returncode, outside.returncode) == (0, 0), inside_err[-2000:] + outside.stderr[-2000:]
    done = trials("sqlite", sweep)
    assert sorted(t.params["x"] for t in done) == [1, 2, 3, 4]  # every point once
    assert {t.state.name for t in done} == {"COMPLETE"}
    owners = {t.user_attrs.get(OWNER_PID_NS) for t in done}
    assert len(owners) == 2, owners  # both sweepers ran trials: one from each PID namespace
