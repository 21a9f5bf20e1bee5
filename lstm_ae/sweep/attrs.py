"""The names under which a sweep stores what it knows in the Optuna study (study and trial user attributes)."""

SETTINGS_ATTR = "sweep_settings"  # study: the fixed settings its trials share (lstm_ae.config.settings)
SWEPT_ATTR = "swept"  # study: the names of the parameters it searches
GRID_KEY = "grid_point"  # trial: the point (grid or lost configuration) it was queued for
ENQUEUED_ATTR = "enqueued"  # trial: it runs a configuration of hydra.sweeper.enqueue
