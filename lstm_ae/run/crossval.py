"""Cross-validation of one configuration: dataset.cv_folds = k > 1.

The test split stays fixed. The train and validation items are pooled and re-partitioned k
times at random (by series when the items name one, Split.names, so a series is never on both
sides), keeping the configured number of validation series. One model is trained per partition in
<run>/cv/fold_<i>/; result.json reports the validation loss of each fold's best epoch and
their mean ± std (sample std, ddof=1). The fold with the lowest validation loss is kept:
its checkpoint becomes <run>/best.pt and is evaluated once on the test split. The value
returned to a sweeper is the mean validation loss over folds.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from lstm_ae.artifacts import write_bytes, write_csv, write_json
from lstm_ae.data.base import SequenceData, concat, groups_of, take, with_splits
from lstm_ae.figures import runs as plots
from lstm_ae.files import BEST_CKPT, METRICS, RESULT, RunStatus
from lstm_ae.run import prepare as pipeline
from lstm_ae.run.outputs import fmt_metrics, test_best
from lstm_ae.train.trainer import Trainer

log = logging.getLogger("lstm_ae")


def repartition(data: SequenceData, fold: int, seed: int) -> SequenceData:
    """Train/val re-drawn from the pooled train+val groups; the number of val groups is kept."""
    pool = concat([data.train, data.val])
    groups = groups_of(pool)
    uniq = np.unique(groups)
    n_val = len(np.unique(groups_of(data.val)))
    perm = np.random.default_rng([seed, fold]).permutation(len(uniq))
    is_val = np.isin(groups, uniq[perm[:n_val]])
    return with_splits(data, train=take(pool, np.flatnonzero(~is_val)), val=take(pool, np.flatnonzero(is_val)))


# -- the cross-validated run ------------------------------------------------------------------
def run_cv(cfg: DictConfig, out: Path, result: dict, t_start: float) -> float:

    prep = pipeline.prepare(cfg)  # checks dataset.cv_folds too (lstm_ae.config)
    k = int(cfg.dataset.cv_folds)  # validates everything and loads the data before any training
    model_cfg, trainer_cfg, task, data, device = prep.model_cfg, prep.trainer_cfg, prep.task, prep.data, prep.device
    optimizer_factory, scheduler_cfg = prep.optimizer_factory, prep.scheduler_cfg
    reporter = None
    if cfg.get("trial_ctx"):  # the pruner sees each fold's best validation loss, step = fold (WilcoxonPruner)
        from lstm_ae.sweep.pruning import PruningReporter

        reporter = PruningReporter.from_ctx(cfg.trial_ctx)
        log.info("cross-validation: the sweeper's pruner gets each fold's best %s (step = fold)", task.objective)

    folds, histories, fold_data = [], [], []
    for fold in range(k):
        fdata = repartition(data, fold, int(cfg.dataset.get("seed", 0)))
        fold_dir = out / "cv" / f"fold_{fold + 1}"
        pipeline.seed_everything(trainer_cfg.seed + fold)
        model = pipeline.build_model(model_cfg, fdata, task)
        log.info(
            "cv fold %d/%d: train/val windows %d/%d (groups %d/%d) -> %s",
            fold + 1,
            k,
            len(fdata.train),
            len(fdata.val),
            len(np.unique(groups_of(fdata.train))),
            len(np.unique(groups_of(fdata.val))),
            fold_dir,
        )
        trainer = Trainer(
            model,
            task,
            optimizer_factory,
            scheduler_cfg,
            fold_dir,
            trainer_cfg,
            seed=trainer_cfg.seed + fold,
            pace=prep.pace,
        )
        outcome = trainer.fit(fdata.train, fdata.val)
        folds.append(
            {
                "fold": fold + 1,
                "status": outcome.status,
                "reason": outcome.reason,
                "best_val_loss": outcome.best_objective,
                "best_epoch": outcome.best_epoch,
                "epochs_run": len(outcome.history),
                "train_size": len(fdata.train),
                "val_size": len(fdata.val),
            }
        )
        histories.append(outcome.history)
        fold_data.append(fdata)
        log.info(
            "cv fold %d/%d: best %s %s at epoch %s",
            fold + 1,
            k,
            task.objective,
            outcome.best_objective,
            outcome.best_epoch,
        )
        if reporter is not None and outcome.best_objective is not None and fold + 1 < k:
            if reporter.after_step(fold, float(outcome.best_objective)):
                log.info("cross-validation pruned after fold %d of %d by the sweeper's pruner", fold + 1, k)
                break

    vals = np.array([np.nan if f["best_val_loss"] is None else f["best_val_loss"] for f in folds], dtype=np.float64)
    ok = np.isfinite(vals) & np.array([(out / "cv" / f"fold_{f['fold']}" / BEST_CKPT).exists() for f in folds])
    summary = {
        "folds": folds,
        "k": k,
        "objective": task.objective,  # what val_loss_* summarise (val_loss unless task.objective says otherwise)
        "val_loss_mean": float(vals[ok].mean()) if ok.any() else math.inf,
        "val_loss_std": float(vals[ok].std(ddof=1)) if ok.sum() > 1 else 0.0,
        "n_ok": int(ok.sum()),
    }
    status = RunStatus.COMPLETED if ok.all() else (RunStatus.FAILED if not ok.any() else RunStatus.PARTIAL)
    if len(folds) < k:  # pruned: the folds run are kept and reported as such
        status = RunStatus.PRUNED
        result["reason"] = f"pruned after fold {len(folds)} of {k} by the sweeper's pruner"
    result.update(
        status=status,
        objective_name=f"mean {task.objective} over {k} folds"
        + (f" (pruned after {len(folds)})" if len(folds) < k else ""),
        direction=task.direction,
        objective=summary["val_loss_mean"],
        cv=summary,
        n_params=prep.n_params,
        test_size=len(data.test),
    )
    log.info(
        "cross-validation: val_loss %.6g ± %.2g (mean ± std over %d of %d folds)",
        summary["val_loss_mean"],
        summary["val_loss_std"],
        summary["n_ok"],
        k,
    )
    figures = []
    if ok.any():
        best = None
        for i in np.flatnonzero(ok):
            if best is None or task.is_better(vals[i], vals[best]):
                best = int(i)
        summary["kept_fold"] = best + 1
        fdata, history = fold_data[best], histories[best]
        kept = out / "cv" / f"fold_{best + 1}" / BEST_CKPT
        write_bytes(out / BEST_CKPT, kept.read_bytes())  # the kept fold's checkpoint, byte for byte
        write_csv(out / METRICS, history)
        fold_prep = dataclasses.replace(prep, data=fdata, model=pipeline.build_model(model_cfg, fdata, task).to(device))
        result.update(best_epoch=folds[best]["best_epoch"], train_size=len(fdata.train), val_size=len(fdata.val))
        tested = test_best(fold_prep, out, history, out / BEST_CKPT)
        result["test"], result["reference"], figures = tested.test, tested.reference.as_dict(), tested.figures
        log.info("test (kept fold %d, epoch %s): %s", best + 1, folds[best]["best_epoch"], fmt_metrics(tested.test))
        plots.plot_cv_folds(
            histories,
            best,
            out / "cv_folds.png",
            f"{data.name}: {k}-fold CV, val loss {summary['val_loss_mean']:.3g} ± {summary['val_loss_std']:.2g}",
        )
        figures.append("cv_folds.png")
    result["figures"] = figures
    result["wall_time_s"] = time.perf_counter() - t_start
    write_json(out / RESULT, result)
    return summary["val_loss_mean"]
