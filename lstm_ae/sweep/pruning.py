"""The job's side of pruning: report the validation objective each epoch to the trial the
sweeper created (found again in the shared study storage) and stop when it says prune.

For any Hydra app swept by this sweeper (`current_trial`):

    from lstm_ae.sweep.pruning import current_trial

    @hydra.main(...)
    def main(cfg):
        trial = current_trial(cfg)          # outside a pruning sweep: reports go nowhere
        for epoch in range(cfg.epochs):
            loss = train_one_epoch(...)
            trial.report(loss, epoch)       # raises optuna.TrialPruned when the pruner says so
        return loss

The sweeper passes the trial to each job (`+trial_ctx=...`) when the study has a storage (the default:
SQLite in the sweep folder) and a pruner (`hydra/sweeper/pruner=median`, ...), with every launcher: the job
finds the trial again through the storage, in its own process or on another machine."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import optuna
from hydra.core.hydra_config import HydraConfig

from lstm_ae.config import build
from lstm_ae.sweep.storage import open_storage

log = logging.getLogger(__name__)


@dataclass
class PruningReporter:
    trial: optuna.Trial

    @classmethod
    def from_ctx(cls, ctx) -> PruningReporter:
        pruner_cfg = HydraConfig.get().sweeper.get("pruner")
        with warnings.catch_warnings():  # WilcoxonPruner, PatientPruner: "experimental" in Optuna 4 and 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            pruner = build(pruner_cfg) if pruner_cfg else None
        storage = open_storage(str(ctx.storage))
        study = optuna.load_study(study_name=str(ctx.study), storage=storage, pruner=pruner)
        study_id = storage.get_study_id_from_name(str(ctx.study))  # the storage interface, public
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(ctx.number))
        return cls(optuna.Trial(study, trial_id))

    def after_step(self, step: int, objective: float) -> bool:
        """Report the objective after `step`; whether the pruner says stop."""
        self.trial.report(objective, step=step)
        return self.trial.should_prune()

    def __call__(self, epoch: int, objective: float) -> None:
        if self.after_step(epoch, objective):
            log.info("pruned by the sweeper's pruner after epoch %d (objective %.6g)", epoch, objective)
            raise optuna.TrialPruned(f"pruned after epoch {epoch} (objective {objective:.6g})")


class TrialHandle:
    """The running job's trial, as a user's task sees it (`current_trial`)."""

    def __init__(self, reporter: PruningReporter | None) -> None:
        self.reporter = reporter

    @property
    def active(self) -> bool:
        """Whether reports reach a pruner (False outside a pruning sweep)."""
        return self.reporter is not None

    def report(self, value: float, step: int) -> None:
        """Report the objective after `step`; raise optuna.TrialPruned when the pruner prunes."""
        if self.reporter is not None:
            self.reporter(step, float(value))


def current_trial(cfg) -> TrialHandle:
    """The trial of the job running cfg: a handle whose report() is a no-op outside a pruning sweep."""
    ctx = cfg.get("trial_ctx") if hasattr(cfg, "get") else None
    return TrialHandle(PruningReporter.from_ctx(ctx) if ctx else None)
