"""hydra.sweeper.custom_search_space for the sphere app: one more (conditional) parameter per trial."""


def extra(cfg, trial) -> None:
    trial.suggest_float("z", 0.0, 1.0)
