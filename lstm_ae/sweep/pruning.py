"""The job's side of pruning: report the validation objective each epoch to the trial the
sweeper created (found again in the shared study storage) and stop when it says prune."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

from lstm_ae.sweep.storage import open_storage

log = logging.getLogger(__name__)


@dataclass
class PruningReporter:
    trial: optuna.Trial

    @classmethod
    def from_ctx(cls, ctx) -> PruningReporter:
        pruner_cfg = HydraConfig.get().sweeper.get("pruner")
        pruner = instantiate(pruner_cfg) if pruner_cfg else None
        storage = open_storage(str(ctx.storage))
        study = optuna.load_study(study_name=str(ctx.study), storage=storage, pruner=pruner)
        study_id = storage.get_study_id_from_name(str(ctx.study))  # the storage interface, public
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(ctx.number))
        return cls(optuna.Trial(study, trial_id))

    def __call__(self, epoch: int, objective: float) -> None:
        self.trial.report(objective, step=epoch)
        if self.trial.should_prune():
            log.info("pruned by the sweeper's pruner after epoch %d (objective %.6g)", epoch, objective)
            raise optuna.TrialPruned(f"pruned after epoch {epoch} (objective {objective:.6g})")
