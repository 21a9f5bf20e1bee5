"""Where a sweep's Optuna study lives, opened in one place for everyone who opens it: the sweeper,
trials reporting to a pruner, and the sweep report.

hydra.sweeper.storage takes
- an SQLAlchemy URL: `sqlite:///path/optuna.db` (the default, in the sweep folder), or a database
  server (`postgresql://...`, `mysql+pymysql://...`);
- a file path without `://`: Optuna's journal file (JournalFileBackend), for clusters with a shared
  file system but no database server;
- null: an in-memory study (no resume, no pruning across processes).

On a database server, passwords stay out of every log and file: a URL is shown as
`postgresql://user:***@host/db`, and a password written in hydra.sweeper.storage is passed to the sweep's
jobs through the environment (PASSWORD_ENV), not their configs. Better still, leave it out of the URL:
psycopg reads PGPASSWORD and ~/.pgpass. Claims of trials are serialized by a lock in the database itself
(PostgreSQL advisory lock, MySQL GET_LOCK: server_lock), so sweepers in different folders or on other
hosts never claim the same grid point; a killed holder's lock ends with its connection.

Several processes write one SQLite file at once, so SQLite waits for a lock held by another instead
of failing at once. The sweep process opens a database with Optuna's heartbeat settings (see
lstm_ae.sweep.liveness); jobs open it without.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import warnings
from pathlib import Path

import optuna

SQLITE_LOCK_WAIT_S = 60
PASSWORD_ENV = "LSTM_AE_STORAGE_PASSWORD"  # a storage URL's password, for the sweep's jobs (never in a file)
CLAIM_LOCK_KEY = 7_316_251_843  # the PostgreSQL advisory lock (and MySQL lock name) every lstm-ae sweep takes
# what each SQLAlchemy dialect needs: (the module, the pip extra that installs it)
DRIVERS = {"postgresql": ("psycopg", "postgres"), "mysql": ("pymysql", None)}


class StorageConfigError(ValueError):
    """hydra.sweeper.storage cannot be opened as written (a missing driver); the message is one line."""


def _url(spec: str):
    from sqlalchemy.engine import make_url

    return make_url(spec)


def mask(spec: str | None) -> str:
    """spec for logs and files: `postgresql://user:***@host/db`; a journal path or SQLite file as given."""
    if not spec or is_journal(spec):
        return spec or "memory"
    try:
        return _url(spec).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (an unparsable URL fails later, with its own error)
        return spec


def without_password(spec: str | None) -> tuple[str | None, str | None]:
    """(spec without its password, the password or None): what the sweep writes and passes on."""
    if not spec or is_journal(spec):
        return spec, None
    url = _url(spec)
    if url.password is None:
        return spec, None
    from sqlalchemy.engine import URL

    bare = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
    return bare.render_as_string(hide_password=False), str(url.password)


def _with_password(spec: str) -> str:
    """spec with the password the sweep passed through the environment, when it has none of its own."""
    password = os.environ.get(PASSWORD_ENV)
    url = _url(spec)
    if not password or url.password is not None:
        return spec
    return url.set(password=password).render_as_string(hide_password=False)


def _check_driver(spec: str) -> None:
    """One line naming the package (and the extra) when the URL's database driver is not installed."""
    import importlib.util

    url = _url(spec)
    dialect, _, driver = url.drivername.partition("+")
    module, extra = DRIVERS.get(dialect, (None, None))
    if driver:
        module, extra = {"psycopg2": ("psycopg2", None), "pymysql": ("pymysql", None)}.get(driver, (driver, None))
    if module is None or importlib.util.find_spec(module) is not None:
        return
    how = f"pip install 'lstm-ae[{extra}]'" if extra else f"pip install {module}"
    raise StorageConfigError(
        f"hydra.sweeper.storage={mask(spec)} needs the database driver {module}: {how}; nothing was run"
    )


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
    else:  # a server: a connection dropped by a restart is replaced, not used
        _check_driver(spec)
        spec = _with_password(spec)
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
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


def server_dialect(spec: str | None) -> str | None:
    """'postgresql' or 'mysql' when spec names a database server whose lock every sweep takes."""
    if not spec or is_journal(spec) or _sqlite_path(spec) is not None:
        return None
    dialect = _url(spec).drivername.partition("+")[0]
    return dialect if dialect in DRIVERS else None


def lock_beside_storage(spec: str | None) -> bool:
    """Whether every process sharing the study takes the same lock: a file beside a SQLite or journal
    file, or the database server's own lock."""
    return bool(spec) and (is_journal(spec) or _sqlite_path(spec) is not None or server_dialect(spec) is not None)


@contextlib.contextmanager
def server_lock(engine):
    """Hold the database server's lock shared by every lstm-ae sweep on it: a session lock on its own
    connection, so a killed holder's lock ends with that connection."""
    from sqlalchemy import text

    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            take, give = "SELECT pg_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)"
        else:
            take, give = "SELECT GET_LOCK(CONCAT('lstm_ae_', :k), -1)", "SELECT RELEASE_LOCK(CONCAT('lstm_ae_', :k))"
        conn.execute(text(take), {"k": CLAIM_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text(give), {"k": CLAIM_LOCK_KEY})
            conn.commit()


def lock_engine(spec: str):
    """A small engine of its own for server_lock (the lock's connection is held while Optuna's work)."""
    import sqlalchemy

    _check_driver(spec)
    return sqlalchemy.create_engine(_with_password(spec), pool_size=1, max_overflow=0, pool_pre_ping=True)


def lock_path_for(spec: str | None, sweep_dir: Path) -> Path:
    """The file that serializes sweep processes sharing a study: beside a SQLite or journal file,
    else in the sweep folder."""
    if spec and _sqlite_path(spec) is not None:
        return Path(str(_sqlite_path(spec)) + ".lock")
    if spec and is_journal(spec):
        return Path(spec + ".sweep.lock").expanduser()
    return Path(sweep_dir) / ".sweep.lock"
