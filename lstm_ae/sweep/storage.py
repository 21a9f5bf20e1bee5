"""Where a sweep's Optuna study lives, opened in one place for everyone who opens it: the sweeper,
trials reporting to a pruner, and the sweep report.

hydra.sweeper.storage takes
- an SQLAlchemy URL: `sqlite:///path/optuna.db` (the default, in the sweep folder), or a database
  server (`postgresql://...`, `mysql+pymysql://...`);
- a file path without `://`: Optuna's journal file (JournalFileBackend), for clusters with a shared
  file system but no database server;
- null: an in-memory study (no resume, no pruning across processes).

Several processes write one SQLite file at once, so SQLite waits for a lock held by another instead
of failing at once. The sweep process opens a database with Optuna's heartbeat settings (see
lstm_ae.sweep.liveness); jobs open it without.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import optuna

SQLITE_LOCK_WAIT_S = 60


def is_journal(spec: str) -> bool:
    return "://" not in spec


def _sqlite_path(spec: str) -> Path | None:
    return Path(spec[len("sqlite:///") :]).expanduser().absolute() if spec.startswith("sqlite:///") else None


def open_storage(spec: str | None, heartbeat: tuple[int, int] | None = None) -> optuna.storages.BaseStorage | None:
    """The storage named by spec (see the module docstring); None for an in-memory study. A journal path
    is taken as given (the sweeper makes it absolute, under the sweep folder, before jobs see it).
    heartbeat=(interval, grace period) in seconds enables Optuna's heartbeat on a database."""
    if not spec:
        return None
    if is_journal(spec):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(spec).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    kwargs = {}
    if heartbeat is not None:
        kwargs = {"heartbeat_interval": heartbeat[0], "grace_period": heartbeat[1]}
    sqlite = _sqlite_path(spec)
    if sqlite is not None:
        sqlite.parent.mkdir(parents=True, exist_ok=True)
        spec = f"sqlite:///{sqlite}"
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": SQLITE_LOCK_WAIT_S}}
    with warnings.catch_warnings():  # heartbeat_interval is marked experimental since Optuna 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(spec, **kwargs)


def storage_errors() -> tuple[type[BaseException], ...]:
    """What a failing storage raises: Optuna's wrapper, the database driver's error, a file error."""
    import sqlalchemy.exc

    return (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError, sqlite3.Error, OSError)


def root_cause(exc: BaseException) -> str:
    """The innermost error behind exc, on one line: `attempt to write a readonly database`, not Optuna's
    `An exception is raised during the commit...` nor SQLAlchemy's statement dump."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0]


def lock_beside_storage(spec: str | None) -> bool:
    """Whether every process sharing the study takes the same lock file (SQLite, journal file)."""
    return bool(spec) and (is_journal(spec) or _sqlite_path(spec) is not None)


def lock_path_for(spec: str | None, sweep_dir: Path) -> Path:
    """The file that serializes sweep processes sharing a study: beside a SQLite or journal file,
    else in the sweep folder."""
    if spec and _sqlite_path(spec) is not None:
        return Path(str(_sqlite_path(spec)) + ".lock")
    if spec and is_journal(spec):
        return Path(spec + ".sweep.lock").expanduser()
    return Path(sweep_dir) / ".sweep.lock"
