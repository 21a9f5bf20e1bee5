"""Scoring beyond the loss: references a model must beat (baselines for forecasts, references for
reconstructions) and the one-step and multi-step forecast scoring (forecast)."""
