"""Hydra's entry point for the lstm_ae sweeper.

Hydra imports every public module under hydra_plugins/ at start-up, in single runs too; this
one stays light and imports Optuna (about 2 s) only when a sweep is built, as upstream does.
"""

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper


class LstmAeOptunaSweeper(OptunaSweeper):
    """Hydra entry point; same arguments as upstream plus pruner and grid_for_choices."""

    def __init__(
        self,
        sampler,
        direction,
        storage,
        study_name,
        n_trials,
        n_jobs,
        max_failure_rate,
        search_space,
        custom_search_space,
        params,
        pruner=None,
        grid_for_choices=True,
    ) -> None:
        from hydra_plugins.lstm_ae_sweeper._impl import LstmAeOptunaSweeperImpl

        self.sweeper = LstmAeOptunaSweeperImpl(
            sampler,
            direction,
            storage,
            study_name,
            n_trials,
            n_jobs,
            max_failure_rate,
            search_space,
            custom_search_space,
            params,
            pruner=pruner,
            grid_for_choices=grid_for_choices,
        )
