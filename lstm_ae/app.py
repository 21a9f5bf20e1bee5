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

from lstm_ae.artifacts import load_checkpoint, write_json
from lstm_ae.errors import ConfigError, DataError
from lstm_ae.pipeline import RESULT, fmt_metrics, prepare, worst_value, write_plots
from lstm_ae.trainer import BEST_CKPT, Trainer, evaluate

log = logging.getLogger("lstm_ae")


def run_experiment(cfg: DictConfig) -> float:
    """Hydra task function: returns the validation objective for the sweeper."""
    out = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    direction = str(cfg.task.get("direction", "minimize"))
    t_start = time.perf_counter()
    result: dict = {"status": "failed", "overrides": list(HydraConfig.get().overrides.task)}
    try:
        value = _run(cfg, out, result, t_start)
        return value if math.isfinite(value) else worst_value(direction)
    except (ConfigError, DataError) as exc:
        result.update(status="failed", reason=str(exc), wall_time_s=time.perf_counter() - t_start)
        write_json(out / RESULT, result)
        if multirun:
            log.error("error: %s", exc)
            return worst_value(direction)
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        if not multirun:
            raise
        result.update(status="failed", reason=f"{type(exc).__name__}: {exc}", wall_time_s=time.perf_counter() - t_start)
        write_json(out / RESULT, result)
        log.exception("trial failed")
        return worst_value(direction)


def _run(cfg: DictConfig, out: Path, result: dict, t_start: float) -> float:
    if (cfg.dataset.get("cv_folds") or 1) != 1:  # k trainings on re-drawn train/val splits
        from lstm_ae.crossval import run_cv

        return run_cv(cfg, out, result, t_start)
    prep = prepare(cfg)
    trainer_cfg, task, data, model, device = prep.trainer_cfg, prep.task, prep.data, prep.model, prep.device
    optimizer_factory, scheduler_cfg, n_params = prep.optimizer_factory, prep.scheduler_cfg, prep.n_params
    callbacks = []
    trial_ctx = cfg.get("trial_ctx")
    if trial_ctx:
        from lstm_ae.sweep.pruning import PruningReporter

        callbacks.append(PruningReporter.from_ctx(trial_ctx))
    trainer = Trainer(model, task, optimizer_factory, scheduler_cfg, out, trainer_cfg, epoch_callbacks=callbacks)
    try:
        outcome = trainer.fit(data.train, data.val)
        status, reason, history = outcome.status, outcome.reason, outcome.history
        best_objective, best_epoch = outcome.best_objective, outcome.best_epoch
    except Exception as exc:
        if type(exc).__name__ != "TrialPruned":
            raise
        history = _history_from(out)
        status, reason = "pruned", str(exc) or "pruned by the sweeper's pruner"
        best_objective, best_epoch = None, None
        for row in history:
            if task.is_better(row[task.objective], best_objective):
                best_objective, best_epoch = row[task.objective], row["epoch"]
    result.update(
        status=status,
        reason=reason,
        objective_name=task.objective,
        direction=task.direction,
        objective=best_objective,
        best_epoch=best_epoch,
        epochs_run=len(history),
        n_params=n_params,
        train_size=len(data.train),
        val_size=len(data.val),
        test_size=len(data.test),
    )
    if (out / BEST_CKPT).exists() and status != "diverged":
        model.load_state_dict(load_checkpoint(out / BEST_CKPT)["model"])
        test = evaluate(model, task, data.test, device, trainer_cfg.precision, trainer_cfg.eval_batch_size)
        result["test"] = test
        result["test"].update(task.extra_test_metrics(model, data, device, out))
        log.info("test (best checkpoint, epoch %s): %s", best_epoch, fmt_metrics(result["test"]))
    result["figures"] = write_plots(data, model, task, history, out, trainer_cfg.n_plot_examples, device)
    result["wall_time_s"] = time.perf_counter() - t_start
    write_json(out / RESULT, result)
    log.info(
        "status=%s objective %s=%s wall %.1fs -> %s",
        status,
        task.objective,
        best_objective,
        result["wall_time_s"],
        out,
    )
    if status in ("completed", "early_stopped") and best_objective is not None:
        return float(best_objective)
    return math.nan


def _history_from(out: Path) -> list[dict]:
    import pandas as pd

    path = out / "metrics.csv"
    return pd.read_csv(path).to_dict("records") if path.exists() else []
