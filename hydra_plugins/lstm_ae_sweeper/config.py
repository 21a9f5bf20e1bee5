"""Config of the Optuna sweeper: the keys of hydra-optuna-sweeper (so its configs work unchanged),
plus storage defaults, pruners, grids, failure handling and heartbeats. Registered as hydra/sweeper=optuna (the
name hydra-optuna-sweeper configs use) and hydra/sweeper=lstm_ae_optuna.

Sampler keys left null take the installed Optuna's default; one set to a value the installed Optuna
does not take is a one-line error naming it.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.lstm_ae_sweeper.sweeper.LstmAeOptunaSweeper"
    _recursive_: bool = False  # the sweep builds sampler and pruner itself (null keys = Optuna's defaults)
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    sampler: Any = MISSING  # the hydra/sweeper/sampler group
    # "minimize" or "maximize", or a list of them for a multi-objective study (the task returns a list).
    direction: Any = "minimize"
    # Persistent study: a SQLite file in the sweep folder. Also any SQLAlchemy URL, a journal file path
    # (no "://"), or null for an in-memory study.
    storage: Any = "sqlite:///${hydra.sweep.dir}/optuna.db"
    study_name: Any = None  # null: Optuna names it (one study per storage then)
    # Trials to run; null: the whole grid of a discrete space, 20 for a sampled one. Caps a grid.
    n_trials: Any = None
    n_jobs: int = 1  # trials asked per batch; the launcher decides whether they run in parallel
    max_failure_rate: float = 0.5  # stop once more than this fraction of the planned trials failed
    # A sweep process beats for its running trials every heartbeat_interval s; a RUNNING trial without a
    # beat for grace_period s is failed by any sweep process sharing the study (any host) and run again.
    # null: no heartbeat (a trial left RUNNING on another host then ends the sweep with exit 3).
    heartbeat_interval: Any = 60
    grace_period: Any = 180
    search_space: Any = None  # deprecated upstream form: {name: {type: float, low: 0, high: 1}}
    custom_search_space: Any = None  # "module.fn": fn(cfg, trial) suggests further (conditional) parameters
    params: Any = None  # {name: "interval(0, 1)"}: the search space in Hydra's override grammar
    pruner: Any = MISSING  # the hydra/sweeper/pruner group (default: none)
    grid_for_choices: bool = True  # a space of comma lists / choice() alone runs exactly its grid
    # [{param: value, ...}, ...]: these configurations run first, each once (across reruns and sweepers)
    enqueue: Any = None
    # after the sweep: rerun the best confirm_top trials with confirm_seeds more seeds (seed_key + 1 ...)
    confirm_seeds: int = 0
    confirm_top: int = 2
    seed_key: str = "trainer.seed"
    # [{_target_: module.Callback, ...}, ...]: each called as callback(study, frozen_trial) after every trial
    # (Optuna's optimize(callbacks=...)); one calling study.stop() ends the sweep after the running batch
    callbacks: Any = None


# Samplers: hydra-optuna-sweeper's names and keys. null = the installed Optuna's default.
@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: Any = None
    consider_prior: Any = None
    prior_weight: Any = None
    consider_magic_clip: Any = None
    consider_endpoints: Any = None
    n_startup_trials: Any = None
    n_ei_candidates: Any = None
    multivariate: Any = None
    group: Any = None
    constant_liar: Any = None
    warn_independent_sampling: Any = None


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Any = None


@dataclass
class CmaEsSamplerConf:
    _target_: str = "optuna.samplers.CmaEsSampler"
    x0: Any = None
    sigma0: Any = None
    seed: Any = None
    n_startup_trials: Any = None
    independent_sampler: Any = None
    warn_independent_sampling: Any = None
    consider_pruned_trials: Any = None
    restart_strategy: Any = None
    inc_popsize: Any = None
    use_separable_cma: Any = None
    with_margin: Any = None
    lr_adapt: Any = None
    source_trials: Any = None


@dataclass
class NSGAIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIISampler"
    population_size: Any = None
    mutation_prob: Any = None
    crossover_prob: Any = None
    swapping_prob: Any = None
    seed: Any = None
    constraints_func: Any = None


@dataclass
class MOTPESamplerConf(TPESamplerConf):
    """Optuna 4 removed MOTPESampler; its successor is TPESampler, which handles several objectives."""


@dataclass
class QMCSamplerConf:
    _target_: str = "optuna.samplers.QMCSampler"
    qmc_type: Any = None
    scramble: Any = None
    seed: Any = None
    independent_sampler: Any = None
    warn_asynchronous_seeding: Any = None
    warn_independent_sampling: Any = None


@dataclass
class GridSamplerConf:
    """Runs the grid of the swept values exactly (at most n_trials points); every value must be discrete."""

    _target_: str = "optuna.samplers.GridSampler"
    seed: Any = None


@dataclass
class GPSamplerConf:
    """Optuna's Gaussian-process sampler (needs scipy: pip install 'lstm-ae[gp]')."""

    _target_: str = "optuna.samplers.GPSampler"
    seed: Any = None
    n_startup_trials: Any = None
    deterministic_objective: Any = None
    independent_sampler: Any = None
    warn_independent_sampling: Any = None


@dataclass
class BruteForceSamplerConf:
    _target_: str = "optuna.samplers.BruteForceSampler"
    seed: Any = None


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


@dataclass
class PercentilePrunerConf:
    _target_: str = "optuna.pruners.PercentilePruner"
    percentile: float = 25.0  # prune below the best 25 % at the same step
    n_startup_trials: int = 5
    n_warmup_steps: int = 3
    interval_steps: int = 1


@dataclass
class PatientPrunerConf:
    """Prunes after `patience` steps without improvement (no wrapped pruner: patience alone)."""

    _target_: str = "optuna.pruners.PatientPruner"
    wrapped_pruner: Any = None
    patience: int = 5
    min_delta: float = 0.0


@dataclass
class ThresholdPrunerConf:
    _target_: str = "optuna.pruners.ThresholdPruner"
    lower: Any = None
    upper: Any = None  # e.g. 0.09: a toy reconstruction worse than the mean signal after the warm-up
    n_warmup_steps: int = 3
    interval_steps: int = 1


@dataclass
class WilcoxonPrunerConf:
    """For objectives averaged over folds or seeds: steps are the folds, reported in a fixed order."""

    _target_: str = "optuna.pruners.WilcoxonPruner"
    p_threshold: float = 0.1
    n_startup_steps: int = 2


cs = ConfigStore.instance()
for name in ("optuna", "lstm_ae_optuna"):
    cs.store(group="hydra/sweeper", name=name, node=OptunaSweeperConf, provider="lstm_ae")
for name, node in (
    ("tpe", TPESamplerConf),
    ("random", RandomSamplerConf),
    ("cmaes", CmaEsSamplerConf),
    ("nsgaii", NSGAIISamplerConf),
    ("motpe", MOTPESamplerConf),
    ("qmc", QMCSamplerConf),
    ("gp", GPSamplerConf),
    ("grid", GridSamplerConf),
    ("bruteforce", BruteForceSamplerConf),
):
    cs.store(group="hydra/sweeper/sampler", name=name, node=node, provider="lstm_ae")
for name, node in (
    ("none", NopPrunerConf),
    ("median", MedianPrunerConf),
    ("successive_halving", SuccessiveHalvingPrunerConf),
    ("hyperband", HyperbandPrunerConf),
    ("percentile", PercentilePrunerConf),
    ("patient", PatientPrunerConf),
    ("threshold", ThresholdPrunerConf),
    ("wilcoxon", WilcoxonPrunerConf),
):
    cs.store(group="hydra/sweeper/pruner", name=name, node=node, provider="lstm_ae")
