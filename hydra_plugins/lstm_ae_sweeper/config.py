"""Config of the lstm_ae_optuna sweeper and of the pruners it can use."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf


@dataclass
class LstmAeOptunaSweeperConf(OptunaSweeperConf):
    _target_: str = "hydra_plugins.lstm_ae_sweeper.sweeper.LstmAeOptunaSweeper"
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    # Persistent study: a SQLite file in the sweep folder unless another SQLAlchemy URL is given.
    storage: Any = "sqlite:///${hydra.sweep.dir}/optuna.db"
    study_name: Any = "${dataset.name}_${task.name}"
    n_trials: int = 20
    n_jobs: int = 1  # trials asked per batch; the launcher decides whether they run in parallel
    # Stop the sweep once more than this fraction of the planned trials has failed.
    max_failure_rate: float = 0.5
    pruner: Any = MISSING  # filled by the hydra/sweeper/pruner group (default: none)
    # Sweeps given only as comma lists run exactly their grid, each combination once.
    grid_for_choices: bool = True


@dataclass
class NopPrunerConf:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConf:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 3
    interval_steps: int = 1


@dataclass
class SuccessiveHalvingPrunerConf:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 3
    min_early_stopping_rate: int = 0


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3


cs = ConfigStore.instance()
cs.store(group="hydra/sweeper", name="lstm_ae_optuna", node=LstmAeOptunaSweeperConf, provider="lstm_ae")
for name, node in (
    ("none", NopPrunerConf),
    ("median", MedianPrunerConf),
    ("successive_halving", SuccessiveHalvingPrunerConf),
    ("hyperband", HyperbandPrunerConf),
):
    cs.store(group="hydra/sweeper/pruner", name=name, node=node, provider="lstm_ae")
