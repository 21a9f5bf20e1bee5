"""lstm-ae's Optuna sweeper: hydra-optuna-sweeper plus exact grids, fault tolerance,
persistent/resumable studies and pruning. Lives under hydra_plugins/ so Hydra finds it."""
