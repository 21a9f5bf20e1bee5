"""The sweep behind `python run.py -m`: Optuna asks, Hydra's launcher runs, the study records.

Built on Hydra's public Sweeper/Launcher API and Optuna's public API only. Imported when a multirun
starts (hydra_plugins/lstm_ae_sweeper/sweeper.py), so single runs never import Optuna.

The Hydra/Optuna contract: the objective is what the task function returns (a float, or a list of
floats for a list of directions). A job that also writes result.json (as run.py does) adds its status
and reason: a diverged, pruned or failed run is recorded as such.

Beyond hydra-optuna-sweeper:
- comma lists alone run exactly their grid, each combination once (across resumes and across
  several sweep processes sharing one study);
- the study lives in a database (SQLite in the sweep folder by default, any SQLAlchemy URL, or
  Optuna's journal file), so the same command again continues it: finished trials are kept, trials
  whose sweep process died (found by heartbeat, on any host: lstm_ae.sweep.liveness) are failed
  and their grid points or configurations run again (in the same folder, so a run can resume from
  its last checkpoint), also by a sweep process that is still running;
- a seeded sampler is reseeded from the study's size, so a resumed sweep does not replay its samples;
- a failed trial is FAIL with its reason, never the end of the sweep, until more than
  max_failure_rate of the planned trials in the study have failed;
- the sweep ends when every planned trial is finished (it waits for trials other sweep processes
  run), or exits non-zero naming the ones nobody can finish; a failing storage is one line naming
  the real cause;
- the sweep summary (lstm_ae.sweep.summary) is rebuilt while trials run and at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import inspect
import json
import logging
import math
import os
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobStatus
from hydra.utils import get_method
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write
from optuna.trial import TrialState

from lstm_ae.config import STUDY_FREE, build, describe, differences, settings
from lstm_ae.files import RESULT, SUMMARY_MD, RunStatus
from lstm_ae.sweep import space as search
from lstm_ae.sweep.attrs import ENQUEUED_ATTR, GRID_KEY, SETTINGS_ATTR, SWEPT_ATTR
from lstm_ae.sweep.launch import JobInterrupted, check_resources, launch_batch
from lstm_ae.sweep.liveness import (
    INTERRUPTED,
    OWNER_HOST,
    OWNER_PID,
    STATUS,
    SWEEP_RUN,
    Liveness,
    killed,
    pid_alive,
    shares_pids,
    sweep_run,
)
from lstm_ae.sweep.storage import (
    PASSWORD_ENV,
    is_journal,
    lock_beside_storage,
    lock_engine,
    lock_path_for,
    open_storage,
    root_cause,
    server_dialect,
    server_lock,
    storage_errors,
    without_password,
)

log = logging.getLogger(__name__)

ENDED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
SUMMARY_EVERY_S = 20.0  # the sweep summary is rebuilt at most this often while trials run, and at the end
RECORD_RETRY_S = 30.0  # how long a finished result waits for a failing storage before the trial is given up
DEFAULT_N_TRIALS = 20  # trials of a sampled (not grid) search when hydra.sweeper.n_trials is not set
FIXED_SEED_SAMPLERS = ("optuna.samplers.QMCSampler",)
# samplers whose package Optuna imports only when they first sample: (module, the extra that installs it)
SAMPLER_NEEDS = {
    "optuna.samplers.CmaEsSampler": ("cmaes", "cmaes"),
    "optuna.samplers.QMCSampler": ("scipy", "qmc"),
    "optuna.samplers.GPSampler": ("scipy", "gp"),
}  # keeps its place in the sequence in the study itself


def _key(params: dict[str, Any]) -> str:
    return json.dumps({k: str(v) for k, v in sorted(params.items())})


def _override_value(value: Any) -> str:
    """A Python value as Hydra override text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and (value == "" or not all(c.isalnum() or c in "._-/:+" for c in value)):
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def trial_grid_key(trial: optuna.trial.FrozenTrial) -> str | None:
    if GRID_KEY in trial.user_attrs:
        return str(trial.user_attrs[GRID_KEY])
    return _key(trial.params) if trial.params else None


class IncompleteSweep(RuntimeError):
    """The sweep ended with planned trials that nobody finished; the message is one line."""


class StorageFailure(RuntimeError):
    """The study's storage failed (read-only, disk full, unreachable); the message is one line."""


@dataclass
class TrialOutcome:
    status: str
    reason: str = ""
    values: list[float] | None = None
    traceback: str = field(default="", repr=False)
    interrupted: str | None = None  # the scheduler's state when a job ended without a result


@dataclass(frozen=True)
class SweepSettings:
    """The hydra.sweeper section (hydra_plugins/lstm_ae_sweeper/config.py declares it for Hydra)."""

    sampler: Any
    direction: Any
    storage: Any
    study_name: str | None
    n_trials: int | None
    n_jobs: int
    max_failure_rate: float
    heartbeat_interval: Any
    grace_period: Any
    search_space: Any
    custom_search_space: str | None
    params: Any
    pruner: Any
    grid_for_choices: bool
    enqueue: Any = None
    confirm_seeds: int = 0
    confirm_top: int = 2
    seed_key: str = "trainer.seed"
    callbacks: Any = None


class OptunaSweep:
    """One sweep: holds the sweeper's settings and the launcher; sweep(arguments) runs it."""

    def __init__(self, settings: SweepSettings, config: DictConfig, launcher: Any) -> None:
        s = settings
        sampler, direction, storage, study_name = s.sampler, s.direction, s.storage, s.study_name
        n_trials, n_jobs, max_failure_rate = s.n_trials, s.n_jobs, s.max_failure_rate
        search_space, custom_search_space, params = s.search_space, s.custom_search_space, s.params
        self.sampler_cfg = sampler
        self.directions = _directions(direction)
        self.sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
        self.storage_spec = None if storage in (None, "") else str(storage)
        if self.storage_spec and is_journal(self.storage_spec):  # jobs may run elsewhere: make it absolute
            self.storage_spec = str(self.sweep_dir / Path(self.storage_spec).expanduser())
        self.storage_spec = _keep_password_out(config, self.storage_spec)
        self._lock_engine = None  # a database server's lock connection (storage.server_lock)
        self.study_name = None if study_name in (None, "") else str(study_name)
        for key, value in (("n_trials", n_trials), ("n_jobs", n_jobs)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise search.SearchSpaceError(
                    f"hydra.sweeper.{key}={value!r}; allowed: a whole number >= 1"
                    + (" (or null: the whole grid, 20 sampled trials)" if key == "n_trials" else "")
                    + (
                        " (trials asked per batch; the launcher decides how many run at once)"
                        if key == "n_jobs"
                        else ""
                    )
                )
        self.n_trials = n_trials
        self.n_jobs = int(n_jobs)
        self.max_failure_rate = float(max_failure_rate)
        self.heartbeat = _heartbeat_settings(s.heartbeat_interval, s.grace_period)
        self.search_space = (
            OmegaConf.to_container(search_space) if isinstance(search_space, DictConfig) else search_space
        )
        self.extend_space = get_method(custom_search_space) if custom_search_space else None
        self.params = OmegaConf.to_container(params) if isinstance(params, DictConfig) else params
        self.pruner_cfg = s.pruner
        self.grid_for_choices = s.grid_for_choices
        self.enqueue = OmegaConf.to_container(s.enqueue) if isinstance(s.enqueue, ListConfig) else s.enqueue
        self.confirm_seeds, self.confirm_top, self.seed_key = s.confirm_seeds, s.confirm_top, str(s.seed_key)
        for key, value in (("confirm_seeds", self.confirm_seeds), ("confirm_top", self.confirm_top)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "confirm_seeds" else 2):
                raise search.SearchSpaceError(
                    f"hydra.sweeper.{key}={value!r}; allowed: a whole number >= {0 if key == 'confirm_seeds' else 2}"
                )
        if self.confirm_seeds and OmegaConf.select(config, self.seed_key, default=None) is None:
            raise search.SearchSpaceError(
                f"hydra.sweeper.confirm_seeds needs a seed setting: hydra.sweeper.seed_key={self.seed_key} is not "
                "in the config; name the key your task seeds from"
            )
        self.callbacks = _callbacks(s.callbacks)
        self.stopped_by: str | None = None  # the callback that called study.stop()
        self.config = config
        self.launcher = launcher
        self.job_idx = 0
        # A user's hydra.sweep.subdir is kept; Hydra's default (the job number) becomes the trial number,
        # so re-runs and concurrent sweepers never collide and a resumed grid point finds its old folder.
        subdir = OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir")
        self.folders_by_trial = str(subdir).replace(" ", "") in ("${hydra.job.num}", "${hydra:job.num}")
        self.doing: str | None = None  # what the sweep is doing with the storage (for its error message)
        self.liveness: Liveness | None = None  # set when the study is opened
        self.seed: int | None = None  # the sampler's seed and a way to rebuild it with another (build_sampler)
        self.reseed = None

    # -- study ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def claim_lock(self):
        """Serialize queueing and asking between sweep processes that share this study: on a database
        server by its own lock (any folder, any host), else by a file."""
        if server_dialect(self.storage_spec):
            if self._lock_engine is None:
                self._lock_engine = lock_engine(self.storage_spec)
            with server_lock(self._lock_engine):
                yield
            return
        path = lock_path_for(self.storage_spec, self.sweep_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def build_sampler(self, grid: list | None):
        if grid is not None:  # the grid runs from the queue; a random sampler costs nothing per ask
            return optuna.samplers.RandomSampler(seed=self.seed)
        return self.sampler

    @staticmethod
    def taken(study: optuna.Study) -> set[str]:
        """Grid points done, running or queued; killed trials do not count."""
        keys = set()
        for t in study.get_trials(deepcopy=False):
            if killed(t):
                continue
            key = trial_grid_key(t)
            if key is not None:
                keys.add(key)
        return keys

    @staticmethod
    def counts(study: optuna.Study) -> tuple[int, int, int]:
        """(finished trials that count toward the plan, running trials, failed trials). A second finished
        trial of one grid point (left by an older version without a shared lock) does not count."""
        done = running = failed = 0
        seen: set[str] = set()
        for t in study.get_trials(deepcopy=False):
            key = t.user_attrs.get(GRID_KEY)  # grid points only: a sampler may well draw one configuration twice
            if t.state == TrialState.RUNNING:
                running += 1
            elif t.state in ENDED_STATES and not killed(t) and (key is None or key not in seen):
                seen.add(key)
                done += 1
                failed += t.state == TrialState.FAIL
        return done, running, failed

    def claim_trials(self, study: optuna.Study, grid: list[dict] | None, planned: int) -> list[optuna.Trial]:
        """Under the study lock: queue what the next batch needs and ask for it. A WAITING trial was
        queued by a process that died before asking (queueing only happens under this lock), so it
        runs first instead of being queued again."""
        waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        done, running, _ = self.counts(study)
        if grid is not None:  # the points of this grid nobody has run (a grown grid: only the new ones)
            taken = self.taken(study)
            new = [p for p in grid[:planned] if _key(p) not in taken][: max(0, self.n_jobs - waiting)]
            batch = min(self.n_jobs, waiting + len(new))
        else:
            batch = min(self.n_jobs, planned - done - running)
            taken = self.taken(study)
            new = [p for p in self.first if _key(p) not in taken] + self.lost_configurations(study)
            if self.reseed is not None:  # a resumed seeded sampler must not replay the samples it drew before
                study.sampler = self.reseed(self.seed + len(study.get_trials(deepcopy=False)))
        first = {_key(p) for p in self.first}
        for params in new[: max(0, batch - waiting)]:
            attrs = {GRID_KEY: _key(params), **({ENQUEUED_ATTR: True} if _key(params) in first else {})}
            study.enqueue_trial(params, user_attrs=attrs)
        trials = []
        with warnings.catch_warnings():  # ask() warns that heartbeats are meant for optimize(); we beat here
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            for _ in range(max(0, batch)):
                trial = study.ask()
                self.liveness.beat(study, trial.number)  # beaten before it has an owner: never unjudgeable
                for key, value in self.liveness.owner().items():
                    trial.set_user_attr(key, value)
                trials.append(trial)
        return trials

    def confirm(self, study: optuna.Study, fixed: dict) -> None:
        """hydra.sweeper.confirm_seeds: rerun the best trials with more seeds (lstm_ae.sweep.confirm);
        every run happens once, across reruns of the sweep (confirm.json)."""
        if not self.confirm_seeds or len(self.directions) != 1:
            return
        from lstm_ae.files import CONFIRM_DIR
        from lstm_ae.sweep import confirm

        sign = 1 if self.directions[0] == "minimize" else -1
        best = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: sign * t.value)
        seed0 = int(fixed.get(self.seed_key, OmegaConf.select(self.config, self.seed_key)))
        known = {c.trial: c for c in confirm.load(self.sweep_dir)}
        chosen = [known.get(t.number) or confirm.Confirmed(t.number, dict(t.params), {seed0: t.value}) for t in best]
        chosen = chosen[: self.confirm_top]
        todo = [(c, s) for c in chosen for s in range(seed0 + 1, seed0 + 1 + self.confirm_seeds) if s not in c.values]
        if todo:
            log.info("confirming the best %d configuration(s) with %d more seed(s): %d run(s)", len(chosen),
                     self.confirm_seeds, len(todo))  # fmt: skip
        others = [f"{k}={v}" for k, v in fixed.items() if k != self.seed_key]
        for start in range(0, len(todo), self.n_jobs):
            batch = todo[start : start + self.n_jobs]
            overrides = [
                [
                    *(f"{k}={_override_value(v)}" for k, v in c.params.items()),
                    *others,
                    f"{self.seed_key}={s}",
                    f"hydra.sweep.subdir={CONFIRM_DIR}/{c.trial}_seed{s}",
                ]  # fmt: skip
                for c, s in batch
            ]
            started = time.time()
            rets = launch_batch(self.launcher, overrides, self.job_idx)
            self.job_idx += len(rets)
            for (c, s), ret in zip(batch, rets):
                out = self.outcome(ret, started)
                if out.values is not None:
                    c.values[s] = out.values[0]
                else:
                    log.warning("confirmation of trial %d with seed %d %s: %s", c.trial, s, out.status, out.reason)
            confirm.save(self.sweep_dir, chosen + [c for n, c in known.items() if c not in chosen], self.seed_key)
        if not todo and chosen:
            confirm.save(self.sweep_dir, chosen, self.seed_key)

    def _enqueued(self, space: dict, grid: list | None) -> list[dict]:
        """hydra.sweeper.enqueue checked against the search space: each entry a full configuration of the
        swept parameters (a grid point, for a grid); one line naming the entry otherwise."""
        entries = self.enqueue or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise search.SearchSpaceError(
                f"hydra.sweeper.enqueue={entries!r}; allowed: a list of {{parameter: value}} dicts, e.g. "
                "[{model.hidden:32,optimizer.lr:0.005}]"
            )
        points = {_key(p) for p in grid} if grid is not None else None
        for i, entry in enumerate(entries):
            if set(entry) != set(space):
                raise search.SearchSpaceError(
                    f"hydra.sweeper.enqueue[{i}] sets {', '.join(sorted(entry)) or 'nothing'}; each entry sets every "
                    f"swept parameter: {', '.join(sorted(space))}"
                )
            if points is not None and _key(entry) not in points:
                raise search.SearchSpaceError(f"hydra.sweeper.enqueue[{i}]={entry} is not a point of the grid")
        return [dict(e) for e in entries]

    def lost_configurations(self, study: optuna.Study) -> list[dict]:
        """Sampled configurations whose trial was killed and that nobody has queued again."""
        taken, lost = self.taken(study), {}
        for t in study.get_trials(deepcopy=False):
            key = trial_grid_key(t)
            if killed(t) and t.params and key not in taken:
                lost.setdefault(key, dict(t.params))
        return list(lost.values())

    def wait_for_others(self, study: optuna.Study) -> bool:
        """Nothing left to ask: while other sweep processes' trials whose death would be noticed still run,
        wait (and return True) so that a dead one's point is run here, not left as a hole."""
        others = [
            t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if self.liveness.can_judge(t)
        ]
        if not others:
            return False
        numbers = {t.number for t in others}
        if not numbers <= self.waited_for:
            self.waited_for |= numbers
            log.info(
                "waiting for trial(s) %s running in other sweep processes (%s); one whose heartbeat stops for "
                "%d s runs again here",
                ", ".join(str(t.number) for t in others),
                ", ".join(
                    sorted(
                        {f"{t.user_attrs.get(OWNER_HOST, '?')} pid {t.user_attrs.get(OWNER_PID, '?')}" for t in others}
                    )
                ),
                self.liveness.grace,
            )
        time.sleep(self.liveness.poll_s)
        return True

    # -- the sweep -----------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list:
        """Run the sweep; a storage error while the sweep uses its study is one line naming the step,
        the storage and the real cause (errors while the launcher runs jobs are not the study's)."""
        self.doing: str | None = None
        try:
            return self._sweep(arguments)
        except storage_errors() as exc:
            if self.doing is None:
                raise
            raise StorageFailure(
                f"{self.doing} in {self.storage_spec or 'memory'} failed: {root_cause(exc)}; "
                "finished trials are kept: fix the storage and run the same command again"
            ) from exc

    def _sweep(self, arguments: list[str]) -> list:
        check_resources(self.launcher)  # before any trial is claimed: a request no node can meet is one line
        if self.search_space and self.params:
            warnings.warn(
                "hydra.sweeper.params and the deprecated hydra.sweeper.search_space are both set: using params "
                "(as hydra-optuna-sweeper does)",
                UserWarning,
                stacklevel=2,
            )
            self.search_space = None
        space = search.from_search_space(self.search_space)
        swept, fixed = search.parse([*search.params_as_overrides(self.params), *arguments])
        space.update(swept)
        for name in fixed:
            space.pop(name, None)
        self.sampler, sampler_is_grid = self._instantiate_sampler()
        grid = None
        # a custom_search_space suggests parameters of its own, which no grid covers: the sampler draws then
        exact_grid = self.grid_for_choices and self.extend_space is None and search.is_discrete(space)
        if space and (sampler_is_grid or exact_grid):
            grid = search.grid(space)  # raises a one-line SearchSpaceError for a continuous parameter
        self.first = self._enqueued(space, grid)
        if grid is not None:  # the enqueued points first, then the grid in its order
            keys = {_key(p) for p in self.first}
            grid = self.first + [p for p in grid if _key(p) not in keys]
            planned = len(grid) if self.n_trials is None else min(len(grid), int(self.n_trials))
            if planned < len(grid):
                log.warning("running %d of the %d grid points (hydra.sweeper.n_trials=%d)", planned, len(grid), planned)
        else:
            planned = DEFAULT_N_TRIALS if self.n_trials is None else int(self.n_trials)
        log.info(search_mode(space, grid, planned, type(self.sampler).__name__, sampler_is_grid))
        pruner = self.pruner_cfg
        if pruner is not None and not isinstance(pruner, optuna.pruners.BasePruner):
            with warnings.catch_warnings():  # WilcoxonPruner, PatientPruner: "experimental" in Optuna 4 and 5
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                pruner = build(pruner)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        self.doing = "opening the study"
        with self.claim_lock():  # two sweepers starting at once must not both create the schema
            storage = open_storage(self.storage_spec, self.heartbeat)
            study = optuna.create_study(
                study_name=self.study_name or _only_study(storage),  # a rerun continues its study
                storage=storage,
                sampler=self.build_sampler(grid),
                pruner=pruner,
                directions=self.directions,
                load_if_exists=True,
            )
        self.liveness = Liveness(storage, *(self.heartbeat or (None, None)))
        self.waited_for: set[int] = set()
        if [d.name.lower() for d in study.directions] != self.directions:
            raise search.SearchSpaceError(
                f"hydra.sweeper.direction={self.directions} but study {study.study_name!r} in "
                f"{self.storage_spec} was created with {[d.name.lower() for d in study.directions]}; "
                "use another hydra.sweeper.study_name or sweep folder"
            )
        self.grid_space = self.check_same_sweep(study, space, grid)  # what the trials record
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")  # as Hydra's basic sweeper does
        log.info(
            "Study %r in %s: %s, %d trial(s) planned, direction %s, pruner %s",
            study.study_name,
            self.storage_spec or "memory",
            "grid" if grid is not None else type(self.sampler).__name__,
            planned,
            ",".join(self.directions),
            type(pruner).__name__ if pruner else "none",
        )
        log.info(plan_line(study, grid, planned))
        pass_trial = (
            self.storage_spec is not None and pruner is not None and not isinstance(pruner, optuna.pruners.NopPruner)
        )
        last_summary = -math.inf
        returns: list = []
        while True:
            self.doing = "claiming trials"
            with self.claim_lock():
                # also while running: a partner may have died. The lock is shared by every sweep process
                # when it lies beside a SQLite or journal file (on a database server, only on one host).
                self.liveness.fail_stale(study, claims_locked=lock_beside_storage(self.storage_spec))
                trials = self.claim_trials(study, grid, planned)
            if not trials:
                self.doing = "checking other sweep processes' trials"
                if self.wait_for_others(study):
                    continue
                break
            overrides = [self._overrides(t, space, fixed, study, pass_trial) for t in trials]
            started = time.time()
            self.doing = None
            with self.liveness.beating([t.number for t in trials]):
                batch = launch_batch(self.launcher, overrides, self.job_idx)
            self.doing = "reading the study"
            self.job_idx += len(batch)
            returns.extend(batch)
            for trial, ret in zip(trials, batch):
                self.record_or_say_why(study, trial, ret, started)
                self.call_back(study, trial.number)
            if time.monotonic() - last_summary >= SUMMARY_EVERY_S:  # rebuilding costs ~1 s; throttle it
                self.write_summary(study)
                last_summary = time.monotonic()
            if self.stopped_by:
                log.info("sweep stopped by hydra.sweeper.callbacks (%s calls study.stop())", self.stopped_by)
                break
            _, _, failed = self.counts(study)
            if failed > self.max_failure_rate * planned:
                self.write_summary(study)
                raise IncompleteSweep(
                    f"sweep stopped: {failed} of {planned} planned trials failed, more than "
                    f"hydra.sweeper.max_failure_rate={self.max_failure_rate} ({failure_reasons(study)}); "
                    f"see {self.sweep_dir / SUMMARY_MD}"
                )
        self.write_summary(study)
        self.finish(study)
        if self.stopped_by:  # the user's callback ended the sweep on purpose: nothing is missing
            return returns
        self.check_complete(study, grid, planned)
        if self.confirm_seeds:  # only after a finished sweep
            self.confirm(study, fixed)
            self.write_summary(study)
        return returns

    def _instantiate_sampler(self) -> tuple[Any, bool]:
        """(sampler, whether it is Optuna's GridSampler, which this sweep runs as an exact grid).
        Keys left null take Optuna's default, so one config serves Optuna 4 and 5."""
        self.seed = None
        self.reseed = None  # seed -> the configured sampler with that seed
        cfg = self.sampler_cfg
        if cfg is None:
            return optuna.samplers.TPESampler(), False
        if not isinstance(cfg, DictConfig):
            return cfg, isinstance(cfg, optuna.samplers.GridSampler)  # already built (a Python caller)
        target = str(cfg.get("_target_", ""))
        kwargs = {k: v for k, v in cfg.items() if k not in ("_target_", "_partial_") and v is not None}
        self.seed = kwargs.get("seed")
        if target == "optuna.samplers.GridSampler":
            return None, True
        module, extra = SAMPLER_NEEDS.get(target, (None, None))
        if module is not None and not _importable(module):
            raise search.SearchSpaceError(
                f"{target.rsplit('.', 1)[-1]} (hydra/sweeper/sampler={extra}) needs the package {module}: "
                f"pip install 'lstm-ae[{extra}]' (or pip install {module}); nothing was run"
            )
        cls = get_method(target)
        accepted = inspect.signature(cls).parameters
        unknown = [k for k in kwargs if k not in accepted]
        if unknown:
            raise search.SearchSpaceError(
                f"hydra.sweeper.sampler.{unknown[0]} is not an argument of {target} in Optuna {optuna.__version__}; "
                f"allowed: {', '.join(accepted)}"
            )
        built = {k: build(v) if isinstance(v, DictConfig) and "_target_" in v else v for k, v in kwargs.items()}
        built = {
            k: OmegaConf.to_container(v) if isinstance(v, (DictConfig, ListConfig)) else v for k, v in built.items()
        }
        if self.seed is not None and target not in FIXED_SEED_SAMPLERS:
            self.reseed = lambda seed: cls(**{**built, "seed": seed})
        return cls(**built), False

    def check_same_sweep(self, study: optuna.Study, space: dict, grid: list | None) -> dict:
        """Before trial 0: a study continues only the sweep it was made by. Its fixed settings
        (lstm_ae.config.settings, epochs included) and the names of its parameters must match, and its
        parameters must take this space's values; a grid may grow or shrink. One line otherwise.
        Returns the space its trials record: for a grid, numbers as ranges (search.growable), except
        where the study already holds the same choices as a categorical."""
        fixed = settings(self.config, free=STUDY_FREE, swept=tuple(space))
        attrs = study.user_attrs
        if SETTINGS_ATTR in attrs:
            diffs = differences(attrs[SETTINGS_ATTR], fixed)
            old_swept, new_swept = sorted(attrs.get(SWEPT_ATTR, [])), sorted(space)
            if old_swept != new_swept:
                diffs.insert(
                    0, f"swept parameters: {', '.join(old_swept) or 'none'} → {', '.join(new_swept) or 'none'}"
                )
            if diffs:
                raise search.SearchSpaceError(
                    f"study {study.study_name!r} in {self.storage_spec} was swept with other settings ({describe(diffs)}); "
                    "nothing was run: use a new hydra.sweep.dir (or hydra.sweeper.study_name), or the same settings"
                )
        held = {}
        for t in study.get_trials(deepcopy=False):
            held.update(t.distributions)
        if grid is not None:
            grown = search.growable(space)
            space = {n: space[n] if held.get(n) == space[n] else grown[n] for n in space}
        for name, dist in space.items():
            problem = search.incompatible(name, held[name], dist) if name in held else ""
            if problem:
                raise search.SearchSpaceError(problem)
        if SETTINGS_ATTR not in attrs:
            study.set_user_attr(SETTINGS_ATTR, fixed)
            study.set_user_attr(SWEPT_ATTR, sorted(space))
        if grid is not None:
            points = {_key(p) for p in grid}
            others = {trial_grid_key(t) for t in study.get_trials(deepcopy=False) if t.state in ENDED_STATES}
            extra = len(others - points - {None})
            if extra:
                log.info(
                    "study %r holds %d grid point(s) beyond this grid: kept, not rerun, and shown in the summary",
                    study.study_name,
                    extra,
                )
        return space

    def _overrides(self, trial: optuna.Trial, space: dict, fixed: dict, study: optuna.Study, pass_trial: bool) -> list:
        values = search.suggest(trial, self.grid_space)
        if self.extend_space is not None:  # hydra-optuna-sweeper's custom_search_space(cfg, trial)
            self.extend_space(self.config, trial)
            values = dict(trial.params)
        out = [f"{name}={_override_value(v)}" for name, v in values.items()]
        out += [f"{name}={v}" for name, v in fixed.items()]
        for name, v in fixed.items():  # where hydra-optuna-sweeper puts the fixed parameters
            trial.set_user_attr(name, v)
        if pass_trial:
            out += [
                f"+trial_ctx.number={trial.number}",
                f"+trial_ctx.study={study.study_name}",
                f"+trial_ctx.storage='{self.storage_spec}'",
            ]
        if self.folders_by_trial:
            folder = self._folder_for(study, trial)
            trial.set_user_attr("run_dir", str(self.sweep_dir / folder))
            out.append(f"hydra.sweep.subdir={folder}")
        return out

    def _folder_for(self, study: optuna.Study, trial: optuna.Trial) -> str:
        """A trial's run folder is its number; a grid point re-run after a killed trial reuses that
        trial's folder, so the run resumes from its last checkpoint (so does a sampled configuration
        queued again after its trial was killed: the same parameters)."""
        key = trial.user_attrs.get(GRID_KEY) or (_key(trial.params) if trial.params else None)
        if key is None:
            return str(trial.number)
        trials = study.get_trials(deepcopy=False)
        claimed = {t.user_attrs.get("resumes_trial") for t in trials}
        for old in trials:
            run_dir = old.user_attrs.get("run_dir")
            if killed(old) and old.number not in claimed and trial_grid_key(old) == key and run_dir:
                if Path(run_dir).parent == self.sweep_dir:
                    trial.set_user_attr("resumes_trial", old.number)
                    return Path(run_dir).name
        return str(trial.number)

    # -- recording -----------------------------------------------------------------------------
    def outcome(self, ret: Any, started: float) -> TrialOutcome:
        """How a job ended: its exception, or its return value plus result.json when it wrote one."""
        if ret.status != JobStatus.COMPLETED:
            try:
                ret.return_value  # noqa: B018  (re-raises the job's exception; public JobReturn API)
                exc: BaseException = RuntimeError("job did not complete")
            except BaseException as raised:  # noqa: BLE001
                exc = raised
            if isinstance(exc, optuna.TrialPruned):  # a user's task pruned through sweep.pruning.current_trial
                return TrialOutcome(RunStatus.PRUNED, str(exc) or "pruned by the sweeper's pruner")
            if isinstance(exc, JobInterrupted):  # the scheduler ended it: runs again at the next invocation
                return TrialOutcome(RunStatus.FAILED, str(exc), interrupted=exc.state)
            return TrialOutcome(
                RunStatus.FAILED, f"{type(exc).__name__}: {exc}", traceback="".join(traceback.format_exception(exc))
            )
        result = {}
        with contextlib.suppress(Exception):
            path = Path(str(ret.hydra_cfg.hydra.runtime.output_dir)) / RESULT
            if path.stat().st_mtime >= started - 1:  # written by this job, not left by an older one
                result = json.loads(path.read_text())
        status = str(result.get("status", RunStatus.COMPLETED))
        reason = str(result.get("reason") or "")
        if RunStatus(status).finished:
            values, problem = _objective_values(ret.return_value, len(self.directions))
            if problem:
                return TrialOutcome(RunStatus.FAILED, problem)
            return TrialOutcome(status, reason, values)
        return TrialOutcome(status, reason)

    def record_or_say_why(self, study: optuna.Study, trial: optuna.Trial, ret: Any, started: float) -> None:
        """Record a job's outcome; when that fails, say what failed and the state the trial is really in."""
        try:
            self.record_retrying(study, trial, ret, started)
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning(
                "trial %d was failed meanwhile by another sweep process (no heartbeat from this one for %s s): "
                "its result is not recorded and it runs again",
                trial.number,
                self.liveness.grace,
            )
        except Exception as exc:  # bookkeeping must not end the sweep; a dead storage ends it at the next claim
            try:
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                state = "marked it FAIL (it runs again)"
            except Exception:  # noqa: BLE001
                state = "the study still shows it RUNNING"
            log.warning(
                "could not record trial %d in %s: %s; %s",
                trial.number,
                self.storage_spec or "memory",
                root_cause(exc),
                state,
            )

    def record_retrying(self, study: optuna.Study, trial: optuna.Trial, ret: Any, started: float) -> None:
        """record, tried again for about RECORD_RETRY_S while a database server fails (restarting), so a
        finished result outlives a short outage; a local file's failure is not waited for."""
        deadline = time.monotonic() + (RECORD_RETRY_S if server_dialect(self.storage_spec) else 0.0)
        wait = 1.0
        while True:
            try:
                return self.record(study, trial, ret, started)
            except storage_errors() as exc:
                if time.monotonic() + wait > deadline:
                    raise
                log.warning("the database failed while recording trial %d (%s); trying again in %.0f s", trial.number,
                            root_cause(exc), wait)  # fmt: skip
                time.sleep(wait)
                wait = min(wait * 2, 8.0)

    def record(self, study: optuna.Study, trial: optuna.Trial, ret: Any, started: float) -> None:
        out = self.outcome(ret, started)
        if out.interrupted:  # before STATUS: killed() reads them together
            trial.set_user_attr(INTERRUPTED, out.interrupted)
            trial.set_user_attr(SWEEP_RUN, sweep_run())
        trial.set_user_attr(STATUS, out.status)
        if out.reason:
            trial.set_user_attr("reason", out.reason[:500])
        if out.status == RunStatus.PRUNED:
            study.tell(trial, state=TrialState.PRUNED)  # Optuna keeps the last reported value
            log.info("trial %d pruned", trial.number)
        elif out.values is not None:
            study.tell(trial, values=out.values)
        else:
            study.tell(trial, state=TrialState.FAIL)
            if out.traceback:
                log.error("trial %d failed:\n%s", trial.number, out.traceback.rstrip())
            else:
                log.warning("trial %d %s: %s", trial.number, out.status, out.reason)

    def call_back(self, study: optuna.Study, number: int) -> None:
        """hydra.sweeper.callbacks, with the finished trial, as Optuna's optimize() calls them. A callback
        may call study.stop() (optuna.study.MaxTrialsCallback does): Optuna allows that only inside its
        optimize loop, so the sweep marks the loop for the call (the same flags optimize() sets)."""
        if not self.callbacks:
            return
        frozen = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
        if frozen is None or not frozen.state.is_finished():
            return
        local = study._thread_local  # noqa: SLF001  (Optuna 4 and 5: what Study.stop() checks)
        for callback in self.callbacks:
            name = _callable_name(callback)
            study._stop_flag, local.in_optimize_loop = False, True  # noqa: SLF001
            try:
                callback(study, frozen)
            except Exception as exc:  # a callback's bug must not take the sweep down
                log.warning("hydra.sweeper.callbacks: %s failed on trial %d: %s: %s", name, number,
                            type(exc).__name__, exc)  # fmt: skip
            finally:
                local.in_optimize_loop = False
            if study._stop_flag:  # noqa: SLF001
                self.stopped_by = name

    def write_summary(self, study: optuna.Study) -> None:
        try:
            from lstm_ae.sweep.summary import write_summary

            write_summary(self.sweep_dir, directions=self.directions, study=study)
        except Exception as exc:  # a summary problem must never take the sweep down
            log.warning("could not write the sweep summary: %s", root_cause(exc))

    def check_complete(self, study: optuna.Study, grid: list[dict] | None, planned: int) -> None:
        """Raise IncompleteSweep naming what this sweep planned but nobody finished: trials killed without
        a rerun, or left RUNNING without heartbeats on another host (maybe dead there). Trials still
        running in a live process on this host (a concurrent sweeper without heartbeats) are not missing."""
        finished, elsewhere = set(), {}
        n_finished = 0
        for t in study.get_trials(deepcopy=False):
            key = trial_grid_key(t)
            if t.state in ENDED_STATES and not killed(t):
                n_finished += 1
                finished.add(key)
            elif t.state == TrialState.RUNNING:
                owner, pid = t.user_attrs.get(OWNER_HOST), t.user_attrs.get(OWNER_PID)
                if shares_pids(t) and pid is not None and pid_alive(int(pid)):
                    n_finished += 1  # a live sweeper here is finishing it
                    finished.add(key)
                else:
                    elsewhere[key] = owner or "an unknown host"
        if grid is not None:
            missing = [p for p in grid[:planned] if _key(p) not in finished]
            if missing:
                names = "; ".join(
                    " ".join(f"{k}={_override_value(v)}" for k, v in p.items())
                    + (f" (RUNNING on {elsewhere[_key(p)]})" if _key(p) in elsewhere else "")
                    for p in missing
                )
                raise IncompleteSweep(
                    f"sweep incomplete: {len(missing)} of {planned} grid points not finished: {names}; "
                    "run the same command again to finish them"
                )
        elif n_finished < planned:
            raise IncompleteSweep(
                f"sweep incomplete: {n_finished} of {planned} trials finished"
                + (
                    f", {len(elsewhere)} left RUNNING on {', '.join(sorted(set(elsewhere.values())))}"
                    if elsewhere
                    else ""
                )
                + "; run the same command again to finish them"
            )

    def finish(self, study: optuna.Study) -> None:
        counts = {s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,))) for s in ENDED_STATES}
        log.info("Sweep finished: %s", ", ".join(f"{v} {k}" for k, v in counts.items()))
        results: dict[str, Any] = {"name": "optuna", "study_name": study.study_name, "counts": counts}
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if complete and len(self.directions) == 1:
            best = study.best_trial
            results.update(best_params=best.params, best_value=best.value, best_trial=best.number)
            log.info("Best trial %d: value %s, parameters %s", best.number, best.value, best.params)
        elif complete:
            results["solutions"] = [
                {"trial": t.number, "params": t.params, "values": t.values} for t in study.best_trials
            ]
            log.info("Pareto front: trials %s", ", ".join(str(t.number) for t in study.best_trials))
        else:
            log.warning("No trial completed; see %s for the reasons", self.sweep_dir / SUMMARY_MD)
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / "optimization_results.yaml")
        log.info("Summary: %s", self.sweep_dir / SUMMARY_MD)
        if self.storage_spec:
            log.info("Study: %s (optuna-dashboard %s)", self.storage_spec, self.storage_spec)


def _keep_password_out(config: DictConfig, spec: str | None) -> str | None:
    """spec without its password, which reaches the sweep's jobs through the environment only: Hydra
    writes hydra.sweeper.storage and the command line's overrides into every job's folder."""
    spec, password = without_password(spec)
    if password is None:
        return spec
    os.environ[PASSWORD_ENV] = password
    with read_write(config), open_dict(config):
        config.hydra.sweeper.storage = spec
        overrides = OmegaConf.select(config, "hydra.overrides.hydra", default=None)
        if overrides is not None:
            config.hydra.overrides.hydra = [
                f"hydra.sweeper.storage={spec}" if str(o).lstrip("+~").startswith("hydra.sweeper.storage=") else o
                for o in overrides
            ]
    log.info(
        "the password in hydra.sweeper.storage reaches this sweep's jobs through %s, and is written nowhere; "
        "for PostgreSQL leave it out of the URL and set PGPASSWORD or ~/.pgpass",
        PASSWORD_ENV,
    )
    return spec


def _only_study(storage) -> str | None:
    """Without hydra.sweeper.study_name: the name of the storage's one study (so the same command again
    continues it, as a sweep folder's optuna.db holds one), None for a new study when there is none or several."""
    if storage is None:
        return None
    names = [s.study_name for s in storage.get_all_studies()]
    return names[0] if len(names) == 1 else None


def plan_line(study: optuna.Study, grid: list | None, planned: int) -> str:
    """What this invocation will run, given what the study holds: hydra.sweeper.n_trials counts the whole
    study (a rerun finishes the plan, it does not add n_trials more)."""
    trials = study.get_trials(deepcopy=False)
    ended = [t for t in trials if t.state in ENDED_STATES and not killed(t)]
    if grid is not None:
        done = {trial_grid_key(t) for t in ended}
        left = sum(_key(p) not in done for p in grid[:planned])
        return f"study {study.study_name!r} holds {len(trials)} trial(s); {left} of the {planned} planned grid points to run"
    left = max(0, planned - len(ended))
    return (
        f"study {study.study_name!r} holds {len(ended)} finished trial(s); running {left} more to reach "
        f"hydra.sweeper.n_trials={planned} (it counts the whole study)"
    )


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def search_mode(space: dict, grid: list | None, planned: int, sampler: str, asked_for_grid: bool) -> str:
    """One line saying how the trials are chosen, and why."""
    if grid is not None:
        why = "hydra/sweeper/sampler=grid" if asked_for_grid else "every swept parameter is a comma list or choice()"
        return f"search: the grid of {len(grid)} point(s), each run once ({why}); {planned} planned"
    sampled = [name for name, d in space.items() if not isinstance(d, optuna.distributions.CategoricalDistribution)]
    why = (
        f"{', '.join(sampled)} {'is' if len(sampled) == 1 else 'are'} a range or interval"
        if sampled
        else "hydra.sweeper.grid_for_choices=false"
        if space
        else "no parameter is swept"
    )
    return f"search: {sampler} draws {planned} trial(s) over {', '.join(space) or 'nothing'} ({why})"


def failure_reasons(study: optuna.Study, limit: int = 2) -> str:
    """The commonest reasons of the study's failed trials, with counts, on one line."""
    reasons: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if not killed(t):
            reason = str(t.user_attrs.get("reason") or "no reason recorded").splitlines()[0][:160]
            reasons[reason] = reasons.get(reason, 0) + 1
    common = sorted(reasons.items(), key=lambda kv: -kv[1])[:limit]
    return "; ".join(f"{n}x {reason}" for reason, n in common) or "no failed trial recorded"


def _callable_name(obj: Any) -> str:
    """module.name of a function, a partial of one, or a callable object's class."""
    target = getattr(obj, "func", obj)  # functools.partial (`_partial_: true`)
    if not hasattr(target, "__qualname__"):
        target = type(target)
    return f"{target.__module__}.{target.__qualname__}"


def _callbacks(spec: Any) -> list:
    """hydra.sweeper.callbacks instantiated: a list of `_target_` nodes (`_partial_: true` for a plain function)."""
    if spec in (None, ""):
        return []
    items = OmegaConf.to_container(spec) if isinstance(spec, (ListConfig, DictConfig)) else spec
    if isinstance(items, dict):
        items = list(items.values())  # a mapping name -> node, as a config group may compose it
    allowed = "allowed: a list of {_target_: module.Callable, ...} called as callback(study, trial)"
    if not isinstance(items, list) or not all(isinstance(i, dict) and "_target_" in i for i in items):
        raise search.SearchSpaceError(f"hydra.sweeper.callbacks={items!r}; {allowed}")
    built = []
    for item in items:
        try:
            callback = build(item)
        except Exception as exc:  # noqa: BLE001  (one line naming the target, before trial 0)
            raise search.SearchSpaceError(
                f"hydra.sweeper.callbacks: {item['_target_']} cannot be built: {root_cause(exc)}; {allowed}"
            ) from None
        if not callable(callback):
            raise search.SearchSpaceError(f"hydra.sweeper.callbacks: {item['_target_']} is not callable; {allowed}")
        built.append(callback)
    return built


def _heartbeat_settings(interval: Any, grace: Any) -> tuple[int, int] | None:
    """(interval, grace period) in whole seconds, or None when heartbeats are off; one line when wrong."""
    if interval is None:
        return None
    values = {"heartbeat_interval": interval, "grace_period": grace}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise search.SearchSpaceError(
                f"hydra.sweeper.{key}={value!r}; allowed: a whole number of seconds > 0"
                + (" (or heartbeat_interval=null: no heartbeats)" if key == "heartbeat_interval" else "")
            )
    if grace <= interval:
        raise search.SearchSpaceError(
            f"hydra.sweeper.grace_period={grace} must be larger than hydra.sweeper.heartbeat_interval={interval}: "
            "a live trial beats only once per interval"
        )
    return int(interval), int(grace)


def _directions(direction: Any) -> list[str]:
    items = list(direction) if isinstance(direction, (list, tuple, ListConfig)) else [direction]
    out = []
    for d in items:
        d = str(getattr(d, "name", d)).lower()
        if d not in ("minimize", "maximize"):
            raise search.SearchSpaceError(
                f"hydra.sweeper.direction={d!r}; allowed: minimize, maximize, or a list of them"
            )
        out.append(d)
    return out


def _objective_values(value: Any, n: int) -> tuple[list[float] | None, str]:
    """The task function's return value as n floats, or why it is not a usable objective."""
    items = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    if len(items) != n:
        return None, f"the task returned {len(items)} value(s) for {n} direction(s)"
    try:
        floats = [float(v) for v in items]
    except (TypeError, ValueError):
        return None, f"the task returned {value!r}; a sweep needs a float (a list of {n} floats for {n} directions)"
    if not all(math.isfinite(v) for v in floats):
        return None, f"the task returned a non-finite objective {value!r}"
    return floats, ""
