"""A short real training on the S&P 500 CSV through run.py (prediction with 2-fold cross-validation),
lstm_ae.apps.evaluate on the same file and on another period, the presets, and the CLI's one-line error."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them


def _result(run_dir) -> dict:
    return json.loads((run_dir / "result.json").read_text())


def test_predict_run_reports_model_baseline_and_ratio(predict_run):
    res = _result(predict_run)
    assert res["status"] == "completed"
    test = res["test"]
    assert test["units"] == "$" and test["recon_mse_dollars"] > 0
    for key in ("one_step", "multi_step"):
        score = test[key]
        for unit in ("", "_dollars"):
            model, base = score[f"model_mse{unit}"], score[f"persistence_mse{unit}"]
            assert model > 0 and base > 0
            assert score[f"ratio{unit}"] == pytest.approx(model / base)
        lo, hi = score["ratio_ci"]  # a verdict only from an interval on one side of 1
        assert score["model_beats_persistence"] is (True if hi < 1 else False if lo > 1 else None)
        assert test[f"{key}_ratio"] == score["ratio"] and test[f"{key}_ratio_dollars"] == score["ratio_dollars"]
    one = test["one_step"]
    assert one["window"] == 49 and one["every"] == 20 and one["n_series"] == 96
    assert one["n"] == 96 * len(range(49, 1007, 20))
    multi = test["multi_step"]
    assert (multi["context"], multi["horizon"], multi["n_sequences"]) == (10, 10, 96 * (1007 // 20))
    assert "ratio" in multi["one_step_same_days"]
    for fig in ("snp500_stocks.png", "reconstructions.png", "loss.png", "prediction_loss.png"):
        assert fig in res["figures"] + test["figures"] and (predict_run / fig).stat().st_size > 10_000
    for fig in ("forecast_one_step.png", "forecast_multi_step.png", "error_vs_horizon.png"):
        assert fig in test["figures"] and (predict_run / fig).stat().st_size > 10_000
    horizon = pd.read_csv(predict_run / "error_vs_horizon.csv")
    assert list(horizon["horizon"]) == list(range(1, 11))
    # persistence held flat gets worse with the horizon; one-step persistence does not
    assert horizon["multi_persistence_mse"].iloc[-3:].mean() > 3 * horizon["multi_persistence_mse"].iloc[:2].mean()
    splits = json.loads((predict_run / "splits.json").read_text())
    assert len(splits["test"]) == 96 and not set(splits["test"]) & set(splits["train"])


def _evaluate(capsys, *args) -> tuple[int, str]:
    """python -m lstm_ae.apps.evaluate ARGS, run in-process (same code path as the command)."""
    from lstm_ae.apps.evaluate import main

    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_evaluate_same_csv_reproduces_test_and_other_period(predict_run, sp500_csv, tmp_path, capsys):
    res = _result(predict_run)
    out = tmp_path / "same"
    code, err = _evaluate(capsys, predict_run, f"dataset.path={sp500_csv}", "task.forecast_every=20", "--out", out)
    assert code == 0, err[-3000:]
    ev = json.loads((out / "eval.json").read_text())
    assert ev["test_size"] == res["test_size"] and "unseen" in ev["evaluated"]
    assert ev["test"]["loss"] == pytest.approx(res["test"]["loss"], rel=1e-5)
    assert ev["test"]["one_step"]["ratio"] == pytest.approx(res["test"]["one_step"]["ratio"], rel=1e-6)
    assert (out / "forecast_multi_step.png").exists() and (out / "config.yaml").exists()

    # another period: 2017 only, of the first 60 symbols, as a gzip CSV of the same schema
    df = pd.read_csv(sp500_csv)
    df = df[(df["date"] >= "2017-01-01") & df["symbol"].isin(sorted(df["symbol"].unique())[:60])]
    period = tmp_path / "sp500_2017.csv.gz"
    with gzip.open(period, "wt") as fh:
        df.to_csv(fh, index=False)
    out2 = tmp_path / "period"
    code, err = _evaluate(capsys, predict_run, f"dataset.path={period}", "--all-items", "--out", out2)
    assert code == 0, err[-3000:]
    ev2 = json.loads((out2 / "eval.json").read_text())
    assert ev2["data"]["first_date"] == "2017-01-03" and ev2["data"]["trading_days"] == 251
    assert ev2["data"]["stocks_in_file"] == 60 and ev2["data"]["stocks_kept"] == 59
    assert ev2["test_size"] == ev2["data"]["stocks_kept"] * (251 // 50)
    assert ev2["test"]["one_step"]["n"] == ev2["data"]["stocks_kept"] * len(range(49, 251, 20))
    assert ev2["test"]["multi_step"]["n_sequences"] == ev2["data"]["stocks_kept"] * (251 // 20)

    code, err = _evaluate(capsys, predict_run, f"dataset.path={tmp_path / 'missing.csv'}")
    assert code == 2
    assert err.strip().startswith("error: dataset.path=") and "Kaggle" in err
    assert len(err.strip().splitlines()) == 1


def test_cross_validation_folds_mean_std_and_kept_model(predict_run):
    res = _result(predict_run)
    cv = res["cv"]
    assert cv["k"] == 2 and cv["n_ok"] == 2 and len(cv["folds"]) == 2
    assert all(f["epochs_run"] == 2 and f["val_size"] == 95 * 20 for f in cv["folds"])
    vals = [f["best_val_loss"] for f in cv["folds"]]
    assert cv["val_loss_mean"] == pytest.approx(sum(vals) / 2)
    assert cv["val_loss_std"] == pytest.approx(abs(vals[0] - vals[1]) / 2**0.5)
    assert res["objective"] == cv["val_loss_mean"]
    assert vals[cv["kept_fold"] - 1] == min(vals)
    assert vals[0] != vals[1]  # different partitions, different models
    for k in (1, 2):
        assert (predict_run / "cv" / f"fold_{k}" / "best.pt").exists()
    kept = (predict_run / "cv" / f"fold_{cv['kept_fold']}" / "best.pt").read_bytes()
    assert (predict_run / "best.pt").read_bytes() == kept
    assert "cv_folds.png" in res["figures"] and (predict_run / "cv_folds.png").stat().st_size > 10_000
    splits = json.loads((predict_run / "splits.json").read_text())
    assert len(splits["val"]) == 95 and len(splits["train"]) == 286 and len(splits["test"]) == 96


def test_presets_compose():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        rec = compose("config", overrides=["experiment=snp500_reconstruct"])
        pred = compose("config", overrides=["experiment=snp500_predict"])
    GlobalHydra.instance().clear()
    assert rec.dataset.name == pred.dataset.name == "snp500"
    assert (rec.task.name, rec.dataset.cv_folds, rec.dataset.task) == ("reconstruct", 3, "reconstruct")
    assert (pred.task.name, pred.dataset.cv_folds, pred.dataset.task) == ("predict", 1, "predict")
    assert OmegaConf.select(pred, "task.pred_weight") == 5.0 and pred.task.residual and pred.task.linear_skip


def test_cli_bad_csv_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,date,high\nAAA,2016-01-04,1\n")
    proc = run_cli("dataset=snp500", f"dataset.path={bad}", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing column(s) open, low, close, volume" in lines[0]
