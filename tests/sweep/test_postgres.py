"""Sweeps on a real PostgreSQL server (.ci/run starts one on 127.0.0.1 and exports LSTM_AE_POSTGRES, a URL
without password, and LSTM_AE_POSTGRES_PASSWORD). Skipped without a server, except where
LSTM_AE_REQUIRE_POSTGRES=1 (CI): then they fail. Each test makes its own database."""

import importlib.util
import os
import subprocess
import sys
import time
import uuid
from collections import Counter

import optuna
import pytest

from conftest import REPO

SPHERE = REPO / "tests" / "examples" / "sphere.py"
GRID = ["x=-1.5,-0.5,0.5,1.5", "y=-5,0,5"]  # 12 points


def _server() -> tuple[str, str]:
    url, password = os.environ.get("LSTM_AE_POSTGRES"), os.environ.get("LSTM_AE_POSTGRES_PASSWORD")
    if not url or not password or importlib.util.find_spec("psycopg") is None:
        message = "no PostgreSQL server (LSTM_AE_POSTGRES, LSTM_AE_POSTGRES_PASSWORD) or psycopg: see .ci/postgres"
        if os.environ.get("LSTM_AE_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + "; LSTM_AE_REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(message)
    return url, password


@pytest.fixture
def database():
    """(URL with the password, the password) of a new, empty database on the server."""
    import psycopg
    from sqlalchemy.engine import make_url

    url, password = _server()
    name = f"lstm_ae_test_{uuid.uuid4().hex[:8]}"
    base = make_url(url).set(password=password)
    libpq = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False), password
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sphere(*args: str, folder, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SPHERE), "-m", *args, f"hydra.sweep.dir={folder}", "hydra.sweeper.study_name=grid"],
        cwd=folder.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SPHERE_SLEEP": "0.3", **(env or {})},
    )


def running(url: str) -> bool:
    """Whether a trial is RUNNING, read with SQL (Optuna's load_study would create the schema, racing
    the sweeper that is creating it)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        if conn.execute("SELECT to_regclass('trials')").fetchone()[0] is None:
            return False
        return conn.execute("SELECT count(*) FROM trials WHERE state = 'RUNNING'").fetchone()[0] > 0


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    """(exit code, stderr); the sweep's log (stdout) is kept as proc.log."""
    out, err = proc.communicate(timeout=600)
    proc.log = out
    return proc.returncode, err


def test_three_sweepers_in_three_folders_share_one_grid_on_postgres(database, tmp_path):
    """The claim lock is the server's: sweepers in different folders (as on different nodes) run each point
    of the grid once; the password in the URL is in no log, config or summary."""
    url, password = database
    procs = [sphere(*GRID, f"hydra.sweeper.storage={url}", folder=tmp_path / f"node{i}") for i in range(3)]
    ends = [finish(p) for p in procs]
    assert [rc for rc, _ in ends] == [0, 0, 0], "\n".join(err[-2000:] for _, err in ends)
    study = optuna.load_study(study_name="grid", storage=url)
    assert Counter(t.state.name for t in study.trials) == {"COMPLETE": 12}
    points = Counter((t.params["x"], t.params["y"]) for t in study.trials)
    assert len(points) == 12 and set(points.values()) == {1}
    assert sum(len(list((tmp_path / f"node{i}").glob("*/.hydra"))) for i in range(3)) == 12  # each ran some
    written = [p for p in tmp_path.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
    assert written == []
    assert all(password not in err for _, err in ends)
    log = (tmp_path / "node0" / "multirun.yaml").read_text()
    assert "lstm_ae@127.0.0.1" in log or "lstm_ae@localhost" in log


def test_a_missing_database_driver_is_one_line_naming_the_package(database, tmp_path):
    if importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here")
    url, password = database
    url2 = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    rc, err = finish(sphere("x=1", "y=1", f"hydra.sweeper.storage={url2}", folder=tmp_path / "sweep"))
    assert rc == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: hydra.sweeper.storage=postgresql+psycopg2://lstm_ae@127.0.0.1")  # no password
    assert "needs the database driver psycopg2: pip install psycopg2" in lines[-1]
    assert "Traceback" not in err and password not in err
    assert not list((tmp_path / "sweep").glob("*/.hydra"))  # nothing ran


def test_a_database_restart_during_a_trial_loses_no_result(database, tmp_path):
    """The server stops for 5 s while a trial runs, and is still down when the trial ends: its result is
    recorded once the server is back (the record is retried; stale connections are replaced: pool_pre_ping)."""
    url, _ = database
    cluster = os.environ.get("LSTM_AE_POSTGRES_CLUSTER")  # "15 lstmae": pg_ctlcluster's version and name
    if not cluster:
        pytest.skip("LSTM_AE_POSTGRES_CLUSTER is not set: the test cannot restart the server")
    proc = sphere("x=1,2", "y=0", f"hydra.sweeper.storage={url}", folder=tmp_path / "sweep", env={"SPHERE_SLEEP": "3"})
    deadline = time.time() + 120
    while not running(url):  # trial 0 is training (not the sweep still starting up)
        assert time.time() < deadline and proc.poll() is None, "hang guard: no trial started"
        time.sleep(0.3)
    subprocess.run(["pg_ctlcluster", *cluster.split(), "stop", "-m", "fast"], check=True)
    time.sleep(5)  # the 3 s trial ends while the server is down
    subprocess.run(["pg_ctlcluster", *cluster.split(), "start"], check=True)
    rc, err = finish(proc)
    assert rc == 0, err[-3000:]
    study = optuna.load_study(study_name="grid", storage=url)
    assert sorted((t.state.name, t.value) for t in study.trials) == [("COMPLETE", 1.0), ("COMPLETE", 4.0)]
    assert "the database failed while recording trial 0" in proc.log and "trying again" in proc.log  # it met the outage
