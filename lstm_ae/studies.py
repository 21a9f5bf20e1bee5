"""Opening an Optuna study's storage, in one place for everyone who opens it: the sweeper, trials
reporting to a pruner, and the sweep report. Several processes write one SQLite file at once, so
SQLite waits for a lock held by another instead of failing at once."""

from __future__ import annotations

import optuna

SQLITE_LOCK_WAIT_S = 60


def open_storage(url: str) -> str | optuna.storages.BaseStorage:
    """An RDBStorage that waits for SQLite locks; other URLs are passed through to Optuna."""
    if url.startswith("sqlite:"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": SQLITE_LOCK_WAIT_S}})
    return url
