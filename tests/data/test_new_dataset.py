"""A new dataset is one module plus one YAML, with no change under lstm_ae/: it trains, is evaluated
on its test split, plotted and swept through run.py (its config folder joined with hydra.searchpath).
What it declares through the typed contract (lstm_ae.data.base: units in mV with their scaling, the
whole series its windows come from) gives real-unit metrics named after its unit, forecasts over
whole series, its own series figure, and `python -m lstm_ae.apps.evaluate` of the run."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, run_cli

APP = REPO / "tests" / "examples" / "sines"


def _env() -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(APP), os.environ.get("PYTHONPATH", "")])}


def _train(tmp_path, *args: str):
    run = tmp_path / "run"
    proc = run_cli(
        "dataset=sines", "model.hidden=8", "trainer.epochs=2", *args,
        f"hydra.searchpath=[file://{APP / 'conf'}]", f"hydra.run.dir={run}", cwd=tmp_path, env=_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run, json.loads((run / "result.json").read_text())


@pytest.fixture
def sines(monkeypatch):
    """The app's own module, imported as run.py imports it (from PYTHONPATH)."""
    monkeypatch.syspath_prepend(str(APP))
    import sines

    return sines


def test_a_dataset_from_its_own_module_and_yaml_trains_evaluates_and_plots(tmp_path):
    run, result = _train(tmp_path, "task=classify")
    assert result["status"] == "completed" and result["test_size"] == 60 and result["train_size"] == 180
    test = result["test"]
    assert 0 <= test["acc"] <= 1 and test["recon"] > 0
    # declared units: the reconstruction error in mV; with a fixed scale of 1000 mV it is the normalized one x 1e6
    assert test["units"] == "mV" and test["recon_mse_mV"] == pytest.approx(test["recon"] * 1e6, rel=1e-4)
    assert test["recon_rmse_mV"] == pytest.approx(test["recon_mse_mV"] ** 0.5)
    # declared series: split by series (splits.json) and the series it names drawn whole
    splits = json.loads((run / "splits.json").read_text())
    assert splits["test"] == [f"sine{i}" for i in range(24, 30)] and len(splits["train"]) == 18
    for name in ("examples.png", "reconstructions.png", "loss.png", "accuracy.png", "sines_series.png"):
        assert (run / name).stat().st_size > 5_000, name
    assert "sines_series.png" in test["figures"]


@pytest.mark.slow
def test_its_units_and_series_give_real_unit_forecasts_and_evaluate_reproduces_them(tmp_path, sines):
    run, result = _train(tmp_path, "task=predict")
    test = result["test"]
    assert result["status"] == "completed" and test["units"] == "mV"
    assert "dollars" not in json.dumps(result)
    # one-step forecasts over the 6 whole test series (400 steps), windows of T-1 = 39 known values
    one = test["one_step"]
    assert (one["window"], one["n_series"], one["n"]) == (39, 6, 6 * (400 - 39))
    series, _ = sines.series_values(30, 400, 0)
    truth = series[24:30]  # the test series, generated independently of the run
    persistence = np.mean((truth[:, 39:] - truth[:, 38:-1]) ** 2)
    assert one["persistence_mse_mV"] == pytest.approx(persistence, rel=1e-12)
    assert one["persistence_mse"] == pytest.approx(persistence / 1e6, rel=1e-12)  # normalized by the 1000 mV span
    assert one["ratio_mV"] == pytest.approx(one["ratio"], rel=1e-9) and one["model_mse_mV"] > 0
    multi = test["multi_step"]
    assert (multi["context"], multi["horizon"], multi["n_sequences"]) == (39, 39, 6 * (400 // 78))
    assert test["one_step_ratio_mV"] == one["ratio_mV"] and test["multi_step_ratio_mV"] == multi["ratio_mV"]
    horizon = pd.read_csv(run / "error_vs_horizon.csv")
    assert len(horizon) == 39 and {"multi_model_mse_mV", "one_step_persistence_mse_mV"} <= set(horizon.columns)
    for name in ("forecast_one_step.png", "forecast_multi_step.png", "error_vs_horizon.png", "sines_series.png"):
        assert name in test["figures"] and (run / name).stat().st_size > 10_000, name

    # python -m lstm_ae.apps.evaluate on the run: the same test series, the same numbers, the same figures
    out = tmp_path / "eval"
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_ae.apps.evaluate", str(run), "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **_env()},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ev = json.loads((out / "eval.json").read_text())
    assert ev["test_size"] == 60 and "unseen" in ev["evaluated"]
    assert ev["data"] == {"n_series": 30, "windows_per_series": 10, "units": "mV"}
    for key in ("recon_mse_mV", "one_step_ratio_mV", "multi_step_ratio_mV"):
        assert ev["test"][key] == pytest.approx(test[key], rel=1e-6), key
    assert ev["test"]["one_step"]["persistence_mse_mV"] == one["persistence_mse_mV"]
    for name in ("reconstructions.png", "forecast_one_step.png", "sines_series.png"):
        assert (out / name).stat().st_size > 10_000, name


def test_an_unknown_dataset_is_still_refused_with_the_searchpath_options(tmp_path):
    proc = run_cli("dataset=sinez", f"hydra.searchpath=[file://{APP / 'conf'}]", cwd=tmp_path, env=_env())
    assert proc.returncode == 2
    assert "unknown dataset 'sinez'; allowed: mnist, sines, snp500, toy" in proc.stderr
