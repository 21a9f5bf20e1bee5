"""The sweep itself: a subclass of hydra-optuna-sweeper's implementation that a long sweep can rely on.

Imported only when a multirun starts (see sweeper.py), so single runs do not pay for importing Optuna.

Kept from upstream: samplers, search-space syntax (choice/range/interval, params,
search_space, custom_search_space), directions, launchers. Added:
- comma lists alone run exactly their grid, each combination once (also across resumes
  and across several sweep processes sharing one study);
- a failed, diverged or killed trial is recorded as FAIL with its reason, a pruned one as
  PRUNED, and the sweep goes on until max_failure_rate of the planned trials failed;
- the study lives in a database (SQLite in the sweep folder by default), so re-running
  the same command continues it: finished trials are kept, trials left RUNNING by a dead
  process are marked FAIL, and only the missing trials run;
- the trial is handed to the job (trial_ctx) so it can report per-epoch values to a pruner;
- the sweep summary is rebuilt while trials run (at most every 20 s) and at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import math
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobStatus
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides
from lstm_ae.studies import open_storage

log = logging.getLogger(__name__)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
SUMMARY_EVERY_S = 20.0  # the sweep summary is rebuilt at most this often while trials run, and at the end
STALE_REASON = "stale: its sweep process is gone (killed or crashed)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _params_key(params: dict[str, Any]) -> str:
    return json.dumps({k: str(v) for k, v in sorted(params.items())})


class LstmAeOptunaSweeperImpl(OptunaSweeperImpl):
    def __init__(self, *args: Any, pruner: Any = None, grid_for_choices: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pruner_cfg = pruner
        self.grid_for_choices = grid_for_choices

    # -- storage, locking and stale trials ---------------------------------------------------
    def _storage_url(self) -> str | None:
        if not self.storage:
            return None
        url = str(self.storage)
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///") :]).expanduser().absolute()
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        return url

    @contextlib.contextmanager
    def _claim_lock(self):
        """Serialize ask() between sweep processes sharing this study (same machine or NFS)."""
        lock_path = Path(self.sweep_dir).absolute() / ".sweep.lock"
        if self.storage and str(self.storage).startswith("sqlite:///"):
            lock_path = Path(self._storage_url()[len("sqlite:///") :] + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _fail_stale_trials(self, study: optuna.Study) -> None:
        host = socket.gethostname()
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner_host, owner_pid = t.user_attrs.get("sweeper_host"), t.user_attrs.get("sweeper_pid")
            if owner_host == host and owner_pid is not None and not _pid_alive(int(owner_pid)):
                study._storage.set_trial_user_attr(t._trial_id, "reason", STALE_REASON)
                study._storage.set_trial_state(t._trial_id, TrialState.FAIL)
                log.warning("trial %d was left RUNNING by a dead sweep process: marked FAIL", t.number)

    # -- grid bookkeeping -------------------------------------------------------------------
    @staticmethod
    def _taken(study: optuna.Study) -> set[str]:
        """Grid points done, running or queued; killed (stale) trials do not count."""
        keys = set()
        for t in study.get_trials(deepcopy=False):
            if t.state == TrialState.FAIL and t.user_attrs.get("reason") == STALE_REASON:
                continue
            if t.state == TrialState.WAITING:
                keys.add(_params_key(t.system_attrs.get("fixed_params", {})))
            elif t.state in FINISHED or t.state == TrialState.RUNNING:
                keys.add(_params_key(t.params))
        return keys

    @staticmethod
    def _queue(study: optuna.Study, params: dict[str, Any] | None) -> None:
        """Queue a trial that already names its owner, so a process killed right after ask()
        still leaves a trial the next run can recognise as stale (a bare ask() would not)."""
        system_attrs = {"fixed_params": params} if params is not None else {}
        owner = {"sweeper_host": socket.gethostname(), "sweeper_pid": os.getpid()}
        study.add_trial(
            optuna.trial.create_trial(state=TrialState.WAITING, system_attrs=system_attrs, user_attrs=owner)
        )

    def _claim_trials(self, study: optuna.Study, grid: list[dict[str, Any]] | None, planned: int) -> list[optuna.Trial]:
        """Under the study lock: queue what the next batch needs and ask for it. Trials already
        WAITING were queued by a process that died before asking (all queueing happens under
        this lock), so they are run first instead of being queued again."""
        waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        if grid is not None:
            taken = self._taken(study)
            new = [p for p in grid if _params_key(p) not in taken]
            new = new[: max(0, self.n_jobs - waiting)]
            batch = min(self.n_jobs, waiting + len(new))
        else:
            done, running = self._count_done(study)
            batch = min(self.n_jobs, planned - done - running)
            new = [None] * max(0, batch - waiting)
        for params in new:
            self._queue(study, params)
        trials = [study.ask() for _ in range(max(0, batch))]
        for t in trials:  # a trial queued by a dead process now belongs to this one
            t.set_user_attr("sweeper_host", socket.gethostname())
            t.set_user_attr("sweeper_pid", os.getpid())
        return trials

    @staticmethod
    def _count_done(study: optuna.Study) -> tuple[int, int]:
        """(finished trials that count toward n_trials, running trials)."""
        done = running = 0
        for t in study.get_trials(deepcopy=False):
            if t.state == TrialState.RUNNING:
                running += 1
            elif t.state in FINISHED and t.user_attrs.get("reason") != STALE_REASON:
                done += 1
        return done, running

    # -- the sweep --------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> None:
        assert self.config is not None and self.launcher is not None
        self._process_searchspace_config()
        params_conf = self._parse_sweeper_params_config()
        params_conf.extend(arguments)
        dists, fixed = create_params_from_overrides(params_conf)
        space = dict(self.search_space_distributions or {})
        space.update(dists)
        for name in fixed:
            space.pop(name, None)

        sampler_is_grid = getattr(self.sampler, "func", None) is optuna.samplers.GridSampler
        grid: list[dict[str, Any]] | None = None
        if space and (
            sampler_is_grid
            or (self.grid_for_choices and all(isinstance(d, CategoricalDistribution) for d in space.values()))
        ):
            names = list(space)
            choices = [self._to_grid_sampler_choices(space[n]) for n in names]
            grid = [dict(zip(names, combo)) for combo in itertools.product(*choices)]
        sampler = optuna.samplers.RandomSampler() if sampler_is_grid else self.sampler
        pruner = self.pruner_cfg  # Hydra has already instantiated it (a config only when built by hand)
        if pruner is not None and not isinstance(pruner, optuna.pruners.BasePruner):
            pruner = instantiate(pruner)
        storage = self._storage_url()
        directions = self._get_directions()
        with self._claim_lock():  # two sweepers starting at once must not both create the schema
            study = optuna.create_study(
                study_name=self.study_name,
                storage=open_storage(storage) if storage else None,
                sampler=sampler,
                pruner=pruner,
                directions=directions,
                load_if_exists=True,
            )
        planned = len(grid) if grid is not None else self.n_trials
        log.info(
            "Study %r in %s: %s, %d trial(s) planned, pruner %s",
            study.study_name,
            storage or "memory",
            "grid" if grid is not None else type(sampler).__name__,
            planned,
            type(pruner).__name__ if pruner else "none",
        )
        self._fail_stale_trials(study)
        pass_trial = storage is not None and pruner is not None and not isinstance(pruner, optuna.pruners.NopPruner)
        failures_here = 0
        last_summary = -math.inf
        while True:
            with self._claim_lock():
                trials = self._claim_trials(study, grid, planned)
            if not trials:
                break
            # For grid trials _suggest returns the enqueued values, so both paths are the same.
            overrides = self._configure_trials(trials, space, fixed)
            if pass_trial:
                overrides = [
                    (
                        *o,
                        f"+trial_ctx.number={t.number}",
                        f"+trial_ctx.study={study.study_name}",
                        f"+trial_ctx.storage='{storage}'",
                    )
                    for t, o in zip(trials, overrides)
                ]
            folders = [self._folder_for(study, t) for t in trials]
            for t, folder in zip(trials, folders):
                t.set_user_attr("run_dir", str(Path(self.sweep_dir).absolute() / folder))
            overrides = [(*o, f"hydra.sweep.subdir={folder}") for o, folder in zip(overrides, folders)]
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            for trial, ret in zip(trials, returns):
                try:
                    failures_here += self._record(study, trial, ret)
                except Exception as exc:  # bookkeeping must not end the sweep
                    log.warning("could not record trial %d (%s): marking it FAIL", trial.number, exc)
                    with contextlib.suppress(Exception):
                        study.tell(trial, state=TrialState.FAIL)
                    failures_here += 1
            if time.monotonic() - last_summary >= SUMMARY_EVERY_S:  # rebuilding costs ~1 s; throttle it
                self._write_summary()
                last_summary = time.monotonic()
            if failures_here > self.max_failure_rate * planned:
                self._write_summary()
                raise RuntimeError(
                    f"sweep stopped: {failures_here} of {planned} planned trials failed, more than "
                    f"hydra.sweeper.max_failure_rate={self.max_failure_rate}; see {self.sweep_dir}/summary.csv"
                )
        self._write_summary()
        self._finish(study, directions)

    def _folder_for(self, study: optuna.Study, trial: optuna.Trial) -> str:
        """A trial's run folder is its number, so re-runs and concurrent sweepers never collide;
        a grid point re-run after a killed trial reuses that trial's folder and resumes from last.pt."""
        key = _params_key(trial.params)
        trials = study.get_trials(deepcopy=False)
        claimed = {t.user_attrs.get("resumes_trial") for t in trials}
        sweep_dir = Path(self.sweep_dir).absolute()
        for old in trials:
            run_dir = old.user_attrs.get("run_dir")
            if (
                old.state == TrialState.FAIL
                and old.user_attrs.get("reason") == STALE_REASON
                and old.number not in claimed
                and _params_key(old.params) == key
                and run_dir
                and Path(run_dir).parent == sweep_dir
            ):
                trial.set_user_attr("resumes_trial", old.number)  # finished trials are read-only
                return Path(run_dir).name
        return str(trial.number)

    def _record(self, study: optuna.Study, trial: optuna.Trial, ret: Any) -> int:
        """Tell the study how the trial ended; return 1 when it failed."""
        run_dir = self._run_dir(ret)
        result: dict = {}
        if run_dir is not None and (run_dir / "result.json").exists():
            with contextlib.suppress(ValueError, OSError):
                result = json.loads((run_dir / "result.json").read_text())
        if ret.status != JobStatus.COMPLETED:
            status, reason = "failed", f"{type(ret._return_value).__name__}: {ret._return_value}"
        else:
            status = result.get("status", "failed" if not result else "completed")
            reason = result.get("reason", "" if result else "no result.json written (job killed?)")
        trial.set_user_attr("status", status)
        if reason:
            trial.set_user_attr("reason", str(reason)[:500])
        value = ret._return_value if ret.status == JobStatus.COMPLETED else None
        if status == "pruned":
            study.tell(trial, state=TrialState.PRUNED)  # Optuna keeps the last reported value
            log.info("trial %d pruned", trial.number)
            return 0
        if status in ("completed", "early_stopped") and _finite(value):
            study.tell(trial, values=[float(v) for v in (value if isinstance(value, (list, tuple)) else [value])])
            return 0
        study.tell(trial, state=TrialState.FAIL)
        log.warning("trial %d %s: %s", trial.number, status, reason)
        return 1

    def _run_dir(self, ret: Any) -> Path | None:
        with contextlib.suppress(Exception):
            return Path(ret.hydra_cfg.hydra.runtime.output_dir)
        return None

    def _write_summary(self) -> None:
        try:
            from lstm_ae.report import write_summary

            write_summary(Path(self.sweep_dir))
        except Exception as exc:  # a summary problem must never take the sweep down
            log.warning("could not write the sweep summary: %s", exc)

    def _finish(self, study: optuna.Study, directions: list[str]) -> None:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        counts = {s.name: len(study.get_trials(deepcopy=False, states=(s,))) for s in FINISHED}
        log.info("Sweep finished: %s", ", ".join(f"{v} {k.lower()}" for k, v in counts.items()))
        results: dict[str, Any] = {"name": "optuna", "study_name": study.study_name, "counts": counts}
        if complete and len(directions) == 1:
            best = study.best_trial
            results.update(best_params=best.params, best_value=best.value)
            log.info("Best parameters: %s", best.params)
            log.info("Best value: %s", best.value)
        elif complete:
            results["solutions"] = [{"params": t.params, "values": t.values} for t in study.best_trials]
        else:
            log.warning("No trial completed; see %s/summary.csv for the reasons", self.sweep_dir)
        OmegaConf.save(OmegaConf.create(results), Path(self.sweep_dir) / "optimization_results.yaml")


def _finite(value: Any) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in (value if isinstance(value, (list, tuple)) else [value]))
    except (TypeError, ValueError):
        return False
