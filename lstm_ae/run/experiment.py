"""One run: validate the config, load data, train, evaluate once on test, write artifacts.

Called by run.py through Hydra. In a sweep, every failure of a trial is recorded in its
result.json and turned into a worst-case objective so the sweep carries on.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from lstm_ae.artifacts import write_json
from lstm_ae.errors import ConfigError, DataError
from lstm_ae.files import BEST_CKPT, FINISHED, METRICS, RESULT, RunStatus, read_result
from lstm_ae.run.outputs import Tested, fmt_metrics, test_best, worst_value
from lstm_ae.run.prepare import Prepared, prepare
from lstm_ae.run.rerun import remove_failed_start
from lstm_ae.train.trainer import Trainer, TrainOutcome

log = logging.getLogger("lstm_ae")


def run_experiment(cfg: DictConfig) -> float:
    """Hydra task function: returns the validation objective for the sweeper."""
    out = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    direction = str(cfg.task.get("direction", "minimize"))
    t_start = time.perf_counter()
    result: dict = {"status": RunStatus.FAILED, "overrides": list(HydraConfig.get().overrides.task)}
    try:
        value = _run(cfg, out, result, t_start)
        return value if math.isfinite(value) else worst_value(direction)
    except (ConfigError, DataError) as exc:
        result.update(status=RunStatus.FAILED, reason=str(exc), wall_time_s=time.perf_counter() - t_start)
        record_failure(out, result)
        if multirun:
            log.error("error: %s", exc)
            return worst_value(direction)
        remove_failed_start(out, f"{HydraConfig.get().job.name}.log")
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        if not multirun or ended_by_scheduler(exc):  # the job ends, not the trial: its sweep reruns it
            raise
        result.update(
            status=RunStatus.FAILED, reason=f"{type(exc).__name__}: {exc}", wall_time_s=time.perf_counter() - t_start
        )
        record_failure(out, result)
        log.exception("trial failed")
        return worst_value(direction)


def ended_by_scheduler(exc: BaseException) -> bool:
    """submitit's UncompletedJobError, raised in a job at its time limit's (or a preemption's) signal
    when it is not requeued: the scheduler ends the job and the trial is unfinished, not failed (no
    FAILED result.json; the sweep records it as interrupted and the next invocation resumes it)."""
    kind = type(exc)
    return kind.__name__ == "UncompletedJobError" and kind.__module__.startswith("submitit")


def record_failure(out: Path, result: dict) -> None:
    """Write a failed run's result.json, unless the folder already holds a finished result: a rerun
    that fails never turns a finished run into a failed one."""
    if read_result(out).get("status") in FINISHED:
        log.info("%s keeps its finished result.json; this attempt failed: %s", out, result.get("reason"))
        return
    write_json(out / RESULT, result)


def _run(cfg: DictConfig, out: Path, result: dict, t_start: float) -> float:
    if (cfg.dataset.get("cv_folds") or 1) != 1:  # k trainings on re-drawn train/val splits
        from lstm_ae.run.crossval import run_cv

        return run_cv(cfg, out, result, t_start)
    prep = prepare(cfg)
    trained = train(prep, out, cfg.get("trial_ctx"))
    result.update(
        status=trained.status,
        reason=trained.reason,
        objective_name=prep.task.objective,
        direction=prep.task.direction,
        objective=trained.best_objective,
        best_epoch=trained.best_epoch,
        epochs_run=len(trained.history),
        n_params=prep.n_params,
        train_size=len(prep.data.train),
        val_size=len(prep.data.val),
        test_size=len(prep.data.test),
    )
    usable = (out / BEST_CKPT).exists() and trained.status != RunStatus.DIVERGED
    tested = test_best(prep, out, trained.history, out / BEST_CKPT if usable else None)
    if usable:
        result["test"] = tested.test
        result["reference"] = tested.reference.as_dict()
        log.info("test (best checkpoint, epoch %s): %s", trained.best_epoch, fmt_metrics(tested.test))
        log_reference(tested)
    result["figures"] = tested.figures
    result["wall_time_s"] = time.perf_counter() - t_start
    write_json(out / RESULT, result)
    log.info(
        "status=%s objective %s=%s wall %.1fs -> %s",
        trained.status,
        prep.task.objective,
        trained.best_objective,
        result["wall_time_s"],
        out,
    )
    if RunStatus(trained.status).finished and trained.best_objective is not None:
        return float(trained.best_objective)
    return math.nan


def train(prep: Prepared, out: Path, trial_ctx) -> TrainOutcome:
    """Train prep.model into out; a pruned trial (the sweeper's pruner stopped it) is an outcome too."""
    callbacks = []
    if trial_ctx:
        from lstm_ae.sweep.pruning import PruningReporter

        callbacks.append(PruningReporter.from_ctx(trial_ctx))
    trainer = Trainer(
        prep.model,
        prep.task,
        prep.optimizer_factory,
        prep.scheduler_cfg,
        out,
        prep.trainer_cfg,
        epoch_callbacks=callbacks,
        pace=prep.pace,
    )
    try:
        return trainer.fit(prep.data.train, prep.data.val)
    except Exception as exc:
        if type(exc).__name__ != "TrialPruned":
            raise
        return pruned_outcome(prep.task, _history_from(out), str(exc) or "pruned by the sweeper's pruner")


def pruned_outcome(task, history: list[dict], reason: str) -> TrainOutcome:
    best_objective, best_epoch = None, None
    for row in history:
        if task.is_better(row[task.objective], best_objective):
            best_objective, best_epoch = row[task.objective], row["epoch"]
    epochs_run = history[-1]["epoch"] if history else 0
    return TrainOutcome(RunStatus.PRUNED, epochs_run, best_epoch, best_objective, history, reason)


def log_reference(tested: Tested) -> None:
    ref, recon = tested.reference, tested.test.get("recon")
    if ref.note:
        log.warning("reference: %s", ref.note)
    if ref.test.pca_recon and recon is not None:
        log.info(
            "test reconstruction MSE %.5g; PCA-%d %.5g (ratio %.2f); mean item %.5g",
            recon,
            ref.k,
            ref.test.pca_recon,
            recon / ref.test.pca_recon,
            ref.test.mean_recon,
        )


def _history_from(out: Path) -> list[dict]:
    import pandas as pd

    path = out / METRICS
    return pd.read_csv(path).to_dict("records") if path.exists() else []
