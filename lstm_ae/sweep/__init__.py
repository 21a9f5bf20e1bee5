"""Sweeping: the Optuna sweep behind `python run.py -m` (search space, study storage, the sweep loop)
and the job's side of pruning. Hydra finds the sweeper through hydra_plugins/lstm_ae_sweeper, a thin
entry point that imports this package only when a multirun starts."""
