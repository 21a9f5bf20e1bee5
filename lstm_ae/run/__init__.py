"""One run: its runtime settings (runtime), everything built before training (prepare), the single
after-training step (outputs), the Hydra task function (experiment) and cross-validation (crossval)."""
