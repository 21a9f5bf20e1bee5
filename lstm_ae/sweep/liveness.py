"""Whether a RUNNING trial still has a live sweep process behind it: heartbeats and the stale check.

The sweep process records a trial's result, so its liveness is what counts, wherever the trial trains
(in the sweep process, a joblib worker, a cluster job). It beats for each trial it runs, from a thread,
every heartbeat_interval seconds while the launcher runs the batch. Any sweep process sharing the study
(on any host or container, a rerun too) fails a RUNNING trial that has not beaten for grace_period
seconds; its grid point then runs again, in the trial's folder.

- SQLite or a database server: Optuna's own heartbeat (RDBStorage(heartbeat_interval, grace_period),
  RDBStorage.record_heartbeat, optuna.storages.fail_stale_trials). A beat's time is the database's
  clock: the server's, or for SQLite the clock of the host that writes it.
- Journal file: Optuna 5.0's JournalStorage has no heartbeat, so a beat is the trial's `heartbeat` user
  attribute (the beating host's time.time()), judged against this host's clock.
- Either way hosts' clocks must agree to well within grace_period (NTP does).
- Fast path: a trial owned by this host whose process id is gone is failed at once, but only when its
  owner provably shares this PID namespace (OWNER_PID_NS: the boot id and the namespace's inode; a
  container with the host's name and network has its own pids). A live process id proves nothing (a
  container restarts its sweeper as pid 1; other hosts reuse pids), so it waits for the heartbeat.
- Heartbeats off (heartbeat_interval null): only the fast path; a trial RUNNING elsewhere cannot be
  judged, and the sweep ends with exit 3 naming it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)

OWNER_HOST, OWNER_PID = "sweeper_host", "sweeper_pid"  # user attributes: the sweep process running a trial
OWNER_PID_NS = "sweeper_pid_ns"  # user attribute: "<boot id>:<PID namespace inode>" of that process
BEATS = "heartbeat_interval"  # user attribute: the owner beats every this many seconds
BEAT = "heartbeat"  # user attribute (journal file): time.time() of the last beat
HOST_ENV = "LSTM_AE_HOST"  # the name a sweep process records as its host (default: the host name)
STATUS = "status"  # user attribute set on every trial a sweep process recorded; FAIL without it = killed
INTERRUPTED = "interrupted"  # user attribute: the scheduler's state when the trial's job ended without a result
SWEEP_RUN = "sweep_run"  # user attribute: the invocation of the sweep that recorded the interruption
_SWEEP_RUN: list[str] = []


def sweep_run() -> str:
    """This sweep process's invocation id (made when first asked)."""
    if not _SWEEP_RUN:
        import uuid

        _SWEEP_RUN.append(uuid.uuid4().hex)
    return _SWEEP_RUN[0]


def killed(trial: FrozenTrial) -> bool:
    """A FAIL that runs again: no sweep process recorded it (its process died and a stale check failed
    it), or its job was ended by the scheduler in an earlier invocation of the sweep (in this one it is
    a failed trial, so the sweep does not loop on it)."""
    if trial.state != TrialState.FAIL:
        return False
    attrs = trial.user_attrs
    return STATUS not in attrs or (INTERRUPTED in attrs and attrs.get(SWEEP_RUN) != sweep_run())


def this_host() -> str:
    return os.environ.get(HOST_ENV) or socket.gethostname()


def pid_namespace() -> str | None:
    """This process's PID namespace, unique across boots and hosts: "<boot id>:<inode>"; None off Linux."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None


def shares_pids(trial: FrozenTrial) -> bool:
    """Whether the trial's owner runs on this host in this PID namespace, so its pid can be checked here."""
    ns = trial.user_attrs.get(OWNER_PID_NS)
    return trial.user_attrs.get(OWNER_HOST) == this_host() and ns is not None and ns == pid_namespace()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Liveness:
    """The heartbeat settings of one sweep process and the storage it beats in."""

    storage: optuna.storages.BaseStorage | None
    interval: int | None
    grace: int | None
    trial_ids: dict[int, int] = field(default_factory=dict)  # trial number -> the storage's trial id

    @property
    def enabled(self) -> bool:
        return self.storage is not None and self.interval is not None

    @property
    def poll_s(self) -> float:
        """How often a sweep process waiting for others' trials looks again."""
        return float(min(self.interval or 10, 10))

    def owner(self) -> dict:
        """The user attributes that mark a trial as this process's, in the order to set them: a process
        killed between two of them leaves a trial that is still judged (BEATS before the host)."""
        out = {BEATS: self.interval} if self.enabled else {}
        return {**out, OWNER_HOST: this_host(), OWNER_PID_NS: pid_namespace(), OWNER_PID: os.getpid()}

    def can_judge(self, trial: FrozenTrial) -> bool:
        """Whether a RUNNING trial will, if its process is dead, be found stale (so it is worth waiting for):
        its owner beats, or it was asked but never claimed."""
        return self.enabled and (BEATS in trial.user_attrs or OWNER_HOST not in trial.user_attrs)

    # -- beating -------------------------------------------------------------------------------
    def _record(self, trial_id: int) -> None:
        if isinstance(self.storage, optuna.storages.RDBStorage):
            self.storage.record_heartbeat(trial_id)
        else:
            self.storage.set_trial_user_attr(trial_id, BEAT, time.time())

    def beat(self, study: optuna.Study, number: int) -> None:
        """One beat now (right after asking, so a claimed trial has a beat before it has an owner)."""
        if self.enabled:
            study_id = self.storage.get_study_id_from_name(study.study_name)
            self.trial_ids[number] = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
            self._record(self.trial_ids[number])

    @contextlib.contextmanager
    def beating(self, numbers: list[int]):
        """Beat for these trials (beaten once when asked) every interval until the block ends: the
        launcher trains them meanwhile."""
        if not self.enabled or not numbers:
            yield
            return
        ids = [self.trial_ids[n] for n in numbers]
        stop = threading.Event()

        def run() -> None:
            warned = False
            while not stop.wait(self.interval):
                for trial_id in ids:
                    try:
                        self._record(trial_id)
                    except Exception as exc:  # noqa: BLE001  (a thread must not die silently)
                        if not warned:
                            from lstm_ae.sweep.storage import root_cause

                            log.warning(
                                "could not record the heartbeat of trial(s) %s: %s; other sweep processes take "
                                "them for dead %d s after the last beat",
                                ", ".join(map(str, numbers)),
                                root_cause(exc),
                                self.grace,
                            )
                            warned = True

        thread = threading.Thread(target=run, name="lstm_ae-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # -- judging -------------------------------------------------------------------------------
    def fail_stale(self, study: optuna.Study, claims_locked: bool = False) -> list[int]:
        """Fail the RUNNING trials whose sweep process is gone; return their numbers. A FAIL without the
        sweeper's status is a killed trial: its grid point (or sampled configuration) runs again.
        claims_locked: the caller holds the lock every sweep process sharing the study holds from asking
        for a trial until its owner is set, so a trial without an owner was left by a dead claimer."""
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running:
            return []
        now = time.time()
        stale: list[tuple[int, str]] = []
        for t in running:
            owner, pid = t.user_attrs.get(OWNER_HOST), t.user_attrs.get(OWNER_PID)
            if shares_pids(t) and pid is not None and not pid_alive(int(pid)):
                stale.append((t.number, f"its sweep process (pid {pid}) on this host is gone"))
            elif claims_locked and pid is None:
                stale.append((t.number, "its sweep process died while claiming it"))
            elif not self.enabled:
                continue
            elif owner is None and t.datetime_start is not None:
                age = (datetime.now() - t.datetime_start).total_seconds()
                if age > self.grace:
                    stale.append((t.number, f"asked {age:.0f} s ago by a sweep process that died before claiming it"))
            elif BEAT in t.user_attrs and now - float(t.user_attrs[BEAT]) > self.grace:
                age = now - float(t.user_attrs[BEAT])
                stale.append((t.number, f"no heartbeat from {owner} (pid {pid}) for {age:.0f} s"))
        for number, why in stale:
            study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            log.warning("trial %d marked FAIL: %s; it runs again", number, why)
        if self.enabled and isinstance(self.storage, optuna.storages.RDBStorage):  # Optuna's own check
            judged = {n for n, _ in stale}
            with warnings.catch_warnings():  # fail_stale_trials is marked experimental since Optuna 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            now_killed = {t.number for t in study.get_trials(deepcopy=False) if killed(t)}
            for t in running:
                if t.number not in judged and t.number in now_killed:
                    stale.append((t.number, ""))
                    log.warning(
                        "trial %d marked FAIL: no heartbeat from %s (pid %s) for more than %d s; it runs again",
                        t.number,
                        t.user_attrs.get(OWNER_HOST, "an unknown host"),
                        t.user_attrs.get(OWNER_PID, "?"),
                        self.grace,
                    )
        return [n for n, _ in stale]
