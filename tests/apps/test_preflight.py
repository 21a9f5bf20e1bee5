"""Bad inputs as a table: each is one line on stderr naming the key, exit 2, before any training, and
leaves no run folder behind. Checked in-process (apps.preflight.preflight_run as run.py calls it, and
run.prepare.prepare for what needs the data); tests/run/test_rerun.py runs the rerun cases through run.py."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from lstm_ae.apps.preflight import preflight_run, preflight_sweep
from lstm_ae.config import CONF_DIR, HYDRA_BASE
from lstm_ae.errors import ConfigError, DataError
from lstm_ae.machine import usable_cores

# argv -> a fragment of the one-line error (before Hydra starts, no torch needed)
BEFORE_HYDRA = [
    (["process.threads=1000"], "process.threads=1000 is more than the"),
    (["process.threads=-1"], "process.threads must be >= 0"),
    (["model.hidden=0"], "model.hidden must be a positive integer"),
    (["model.hidden=100000000"], "model.hidden=100000000 (weights and gradients) needs at least"),
    (["trainer.max_time_s=-5"], "trainer.max_time_s must be a number of seconds > 0"),
    (["trainer.epochs=0"], "trainer.epochs must be >= 1"),
    (["dataset=snp500", "dataset.path=/nonexistent/all_stocks.csv"], "dataset.path=/nonexistent/all_stocks.csv: file"),
    (["dataset=snp500", "dataset.cv_folds=0"], "dataset.cv_folds must be an integer >= 1"),
    (["hydra.run.dir=/proc/nope"], "hydra.run.dir=/proc/nope: cannot create the folder"),
]


@pytest.mark.parametrize(("argv", "fragment"), BEFORE_HYDRA, ids=[" ".join(a) for a, _ in BEFORE_HYDRA])
def test_a_bad_value_is_one_line_and_creates_nothing(argv, fragment, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = argv if any(a.startswith("hydra.run.dir") for a in argv) else [*argv, f"hydra.run.dir={run_dir}"]
    with pytest.raises(SystemExit) as stop:
        preflight_run(args)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and fragment in err, err
    assert not run_dir.exists()


def test_a_good_run_passes_and_its_folder_is_created(tmp_path, capsys):
    run_dir = tmp_path / "a" / "run"
    preflight_run(["model.hidden=16", f"process.threads={usable_cores()}", f"hydra.run.dir={run_dir}"])
    assert run_dir.is_dir() and capsys.readouterr().err == ""


def test_a_sweep_checks_its_fixed_settings_and_every_point_before_trial_0(tmp_path, capsys):
    for argv, fragment in (
        (["-m", "model.hidden=8,0"], "model.hidden must be a positive integer, got 0 (grid point model.hidden=0)"),
        (["-m", "process.threads=1000", "optimizer.lr=interval(0.001,0.1)"], "(the sweep's fixed settings)"),
        (["-m", "dataset=snp500", "dataset.path=/nope.csv", "model.hidden=8,16"], "dataset.path=/nope.csv: file"),
    ):
        with pytest.raises(SystemExit) as stop:
            preflight_sweep([*argv, f"hydra.sweep.dir={tmp_path / 'sweep'}"])
        err = capsys.readouterr().err.strip()
        assert stop.value.code == 2 and len(err.splitlines()) == 1 and fragment in err, err
    assert not (tmp_path / "sweep").exists()


def _prepare(*overrides: str):
    from lstm_ae.run.prepare import prepare

    with initialize_config_dir(config_dir=str(CONF_DIR), **HYDRA_BASE):
        cfg = compose("config", overrides=["process.threads=1", *overrides])
    return prepare(cfg)


# overrides -> the one-line error raised while preparing, after the data are read, before training
WITH_DATA = [
    (["dataset.size=1000000000"], "dataset.size=1000000000 x dataset.length=50 needs at least"),
    (["dataset.size=3"], "dataset.size=3 with dataset.splits=[0.6, 0.2, 0.2] leaves the test split empty"),
]


@pytest.mark.parametrize(("overrides", "fragment"), WITH_DATA, ids=[" ".join(o) for o, _ in WITH_DATA])
def test_data_that_cannot_serve_the_run_is_one_line(overrides, fragment):
    with pytest.raises((ConfigError, DataError)) as err:
        _prepare(*overrides)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_prediction_needs_one_feature_per_step(mnist_root):
    with pytest.raises(ConfigError, match=r"^task=predict forecasts one value per step; dataset=mnist_row has 28"):
        _prepare("task=predict", "dataset=mnist", f"dataset.root={mnist_root}", "dataset.download=false")


def test_more_folds_than_stocks_is_one_line(sp500_csv):
    with pytest.raises(ConfigError, match=r"^dataset\.cv_folds=1000 is more than the \d+ train\+validation series"):
        _prepare("dataset=snp500", f"dataset.path={sp500_csv}", "dataset.cv_folds=1000", "model.hidden=8")
