"""Forecast references in result.json/eval.json, and lstm_ae.apps.evaluate on data unlike the run's:
a file holding two periods years apart (split at the gap), a series too short for multi-step,
flags and overrides in any order. Small CSVs are cut from the real S&P 500 file."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them

REFS = ("drift48", "ar1_diff", "ar2_level")


@pytest.fixture(scope="module")
def sp500_frame(sp500_csv) -> pd.DataFrame:
    return pd.read_csv(sp500_csv)


def _write(df: pd.DataFrame, path) -> str:
    with gzip.open(path, "wt") as fh:
        df.to_csv(fh, index=False)
    return str(path)


def _flag(interval: dict) -> bool | None:
    """model_beats_*: the interval's side of 1, None when it holds 1."""
    return True if interval["ci_high"] < 1 else False if interval["ci_low"] > 1 else None


def _check_references(score: dict, n_groups: int, keys=REFS) -> None:
    boot = score["bootstrap"]
    assert boot["n_resamples"] == 1000 and boot["n_groups"] == n_groups and boot["n_blocks"] >= 2
    assert boot["resampled"] == f"the test series and blocks of {boot['block_days']} consecutive days, jointly"
    assert set(score["references"]) == set(keys)
    for key in keys:
        ref = score["references"][key]
        vs = ref["vs_persistence"]
        assert vs["ci_low"] <= vs["ratio"] <= vs["ci_high"]
        assert vs["ratio"] == pytest.approx(ref["mse"] / score["persistence_mse"])
        mv = score["model_vs"][key]
        assert mv["ci_low"] <= mv["ratio"] <= mv["ci_high"]
        assert mv["ratio"] == pytest.approx(score["model_mse"] / ref["mse"])
    assert score["model_vs"]["persistence"]["ratio"] == pytest.approx(score["ratio"])
    assert score["ratio_ci"][0] <= score["ratio"] <= score["ratio_ci"][1]
    assert score["ratio_ar"] == score["model_vs"]["ar1_diff"]["ratio"]
    assert score["model_beats_ar"] is _flag(score["model_vs"]["ar1_diff"])
    assert score["model_beats_persistence"] is _flag(score["model_vs"]["persistence"])
    lo, hi = score["ratio_dollars_ci"]
    assert lo <= score["ratio_dollars"] <= hi and score["model_beats_persistence_dollars"] is _flag(
        {"ci_low": lo, "ci_high": hi}
    )
    verdicts = {True: "beats", False: "worse", None: "not distinguishable"}
    for v in score["model_vs"].values():
        assert v["verdict"] == verdicts[_flag(v)]


def test_result_json_scores_references_with_intervals(predict_run):
    res = json.loads((predict_run / "result.json").read_text())
    test = res["test"]
    one, multi = test["one_step"], test["multi_step"]
    _check_references(one, 96)
    multi_refs = ("drift9", "ar1_diff", "ar2_level")  # 10 known values: drift over at most 9 days
    _check_references(multi, 96, multi_refs)
    fit = one["references_fit"]
    assert fit["fit_on"] == "286 training series" and fit["n_windows"] == 286 * (1007 - 49)
    assert 0.05 < fit["ar1_diff_coef"][1] < 0.15  # daily highs' changes: slightly positively autocorrelated
    # AR(1) on differences beats persistence on the test stocks, drift over 48 days does not
    assert one["references"]["ar1_diff"]["vs_persistence"]["ratio"] < 1
    assert one["references"]["drift48"]["vs_persistence"]["ratio"] > 1
    assert test["one_step_ratio_ar"] == one["ratio_ar"] and test["multi_step_ratio_ar"] == multi["ratio_ar"]
    horizon = pd.read_csv(predict_run / "error_vs_horizon.csv")
    assert {f"multi_{k}_mse" for k in multi_refs} <= set(horizon.columns)


def test_the_python_api_loads_the_run_with_its_residual_head(predict_run):
    """The head's form (residual, linear skip) lives in the task config, not in the weights."""
    import torch

    from lstm_ae.apps.api import load
    from lstm_ae.artifacts import load_checkpoint
    from lstm_ae.model.autoencoder import LSTMAutoencoder

    module = load(predict_run).module
    assert module.residual_predict and module.skip is not None
    state = load_checkpoint(predict_run / "best.pt")["model"]
    direct = LSTMAutoencoder(1, 8, predict=True, residual_predict=True, linear_skip=True)
    direct.load_state_dict(state)
    x = torch.rand(3, 49, 1)
    with torch.inference_mode():
        torch.testing.assert_close(module(x).pred, direct(x).pred)
        assert not torch.allclose(module(x).pred, torch.sigmoid(module.predictor(module.decode(module.encode(x), 49))))


def _evaluate(capsys, *args) -> tuple[int, str]:
    from lstm_ae.apps.evaluate import main

    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_loader_splits_a_file_of_two_periods_at_the_gap(sp500_frame, tmp_path):
    from lstm_ae.data.snp500 import load
    from lstm_ae.errors import DataError

    symbols = sorted(sp500_frame["symbol"].unique())[:40]
    df = sp500_frame[sp500_frame["symbol"].isin(symbols)]
    two = df[(df["date"] < "2015-01-01") | (df["date"] >= "2017-01-01")]
    data = load(path=_write(two, tmp_path / "two.csv.gz"), seq_len=50, stride=10, task="predict")
    dates = data.series.dates
    assert data.series.breaks == (252,) and str(dates[251].date()) == "2014-12-31"
    assert data.stats["gaps"] == "2014-12-31 -> 2017-01-03"
    for split in (data.train, data.val, data.test):
        start = split.start
        assert ((start + 50 <= 252) | (start >= 252)).all()  # no window spans the gap
        assert set(start) == set(range(0, 203, 10)) | set(range(252, 503 - 50 + 1, 10))

    short = df[(df["date"] < "2014-03-01") | (df["date"] >= "2017-11-15")]
    with pytest.raises(
        DataError, match=r"no gap-free stretch of 50 .* longest has \d+ \(gaps: 2014-02-28 -> 2017-11-15"
    ):
        load(path=_write(short, tmp_path / "short.csv.gz"), seq_len=50, task="predict")


def test_evaluate_never_forecasts_across_a_gap(predict_run, sp500_frame, tmp_path, capsys):
    symbols = sorted(sp500_frame["symbol"].unique())[:40]
    df = sp500_frame[sp500_frame["symbol"].isin(symbols)]
    two = df[(df["date"] < "2015-01-01") | (df["date"] >= "2017-01-01")]
    path = _write(two, tmp_path / "two_periods.csv.gz")
    out = tmp_path / "gap"
    # flags first, overrides after them, --out in between
    code, err = _evaluate(
        capsys, predict_run, "--all-items", f"dataset.path={path}", "--out", out, "task.forecast_every=20"
    )
    assert code == 0, err[-3000:]
    ev = json.loads((out / "eval.json").read_text())
    assert ev["data"]["gaps"] == "2014-12-31 -> 2017-01-03"
    one = ev["test"]["one_step"]

    # the same forecast days and persistence errors, computed here from the CSV: a day is scored only
    # when its 49-day window and itself lie in one period
    table = two.pivot(index="date", columns="symbol", values="high").dropna(axis=1)
    assert table.shape[1] == ev["data"]["stocks_kept"] == one["n_series"]
    dates = pd.to_datetime(table.index)
    days = [j for j in range(49, len(dates), 20) if (dates[j] - dates[j - 49]).days < 365]
    highs = table.to_numpy()
    err_p = highs[days] - highs[np.array(days) - 1]
    assert one["n"] == err_p.size
    assert one["persistence_mse_dollars"] == pytest.approx(np.mean(err_p**2), rel=1e-9)
    multi = ev["test"]["multi_step"]
    assert multi["n_sequences"] == table.shape[1] * (252 // 20 + 251 // 20)  # 20-day sequences per period
    _check_references(one, table.shape[1])


def test_evaluate_scores_a_series_too_short_for_multi_step(predict_run, sp500_frame, tmp_path, capsys):
    symbols = sorted(sp500_frame["symbol"].unique())[:40]
    df = sp500_frame[sp500_frame["symbol"].isin(symbols)]
    first = sorted(df["date"].unique())[:66]
    path = _write(df[df["date"].isin(first)], tmp_path / "days66.csv.gz")
    out = tmp_path / "short"
    code, err = _evaluate(
        capsys,
        predict_run,
        f"dataset.path={path}",
        "--all-items",
        "task.multistep_context=null",
        "task.forecast_every=1",
        "--out",
        out,
    )
    assert code == 0, err[-3000:]
    ev = json.loads((out / "eval.json").read_text())
    note = ev["test"]["multi_step"]["skipped"]
    assert "98 gap-free steps" in note and "longest stretch has 66" in note and "\n" not in note
    one = ev["test"]["one_step"]
    assert one["n"] == ev["data"]["stocks_kept"] * 17 and one["model_mse"] > 0  # days 49..65
    assert "forecast_one_step.png" in ev["figures"] and "forecast_multi_step.png" not in ev["figures"]
    assert (out / "forecast_one_step.png").stat().st_size > 10_000


def test_evaluate_scores_the_runs_own_references_unless_asked_to_refit(predict_run, sp500_frame, tmp_path, capsys):
    """Other years: the references are the run's, fitted at training time on its training stocks
    (references.json), never on the evaluated period; --refit-references refits them on the new data and
    says so. A part of the file shorter than one window is named, and splits.json reads as what it is."""
    saved = json.loads((predict_run / "references.json").read_text())
    run_fit = json.loads((predict_run / "result.json").read_text())["test"]["one_step"]["references_fit"]
    assert saved["window"] == 49 and saved["fit_on"] == run_fit["fit_on"] == "286 training series"
    ar1 = next(r for r in saved["references"] if r["key"] == "ar1_diff")
    assert ar1["coef"] == run_fit["ar1_diff_coef"] and len(saved["fit_series"]) == 286

    symbols = sorted(sp500_frame["symbol"].unique())[:60]
    df = sp500_frame[sp500_frame["symbol"].isin(symbols)]
    part = df[(df["date"] < "2014-02-12") | (df["date"] >= "2017-01-01")]  # 28 days, a gap, then 2017
    path = _write(part, tmp_path / "other_years.csv.gz")
    evals = {}
    for name, flags in (("own", []), ("refit", ["--refit-references"])):
        out = tmp_path / name
        code, err = _evaluate(
            capsys, predict_run, f"dataset.path={path}", *flags, "--out", out, "task.forecast_every=5"
        )
        assert code == 0, err[-3000:]
        evals[name] = (json.loads((out / "eval.json").read_text()), json.loads((out / "splits.json").read_text()))
    (own, own_splits), (refit, refit_splits) = evals["own"], evals["refit"]
    unscored = "2014-01-02..2014-02-11: 28 days, shorter than one window (50); not scored"
    assert own["data"]["unscored"] == unscored and own["data"]["gaps"] == "2014-02-11 -> 2017-01-03"
    one = own["test"]["one_step"]
    assert one["references_fit"]["ar1_diff_coef"] == ar1["coef"]
    assert one["references_fit"]["fit_on"].startswith("286 training series, fitted at training time (")
    assert own["references"].startswith("the run's own, fitted at training time")
    fit = refit["test"]["one_step"]["references_fit"]
    assert refit["references"] == "refit on the evaluated data (--refit-references)"
    assert fit["ar1_diff_coef"] != ar1["coef"] and "fitted at training time" not in fit["fit_on"]
    # the eval folder names what was evaluated and what the references saw; no "train" list of evaluated stocks
    assert set(own_splits) == {"evaluated", "excluded_seen_by_the_run", "references_fitted_on"}
    evaluated, excluded = set(own_splits["evaluated"]), set(own_splits["excluded_seen_by_the_run"])
    assert evaluated <= set(symbols) and excluded <= set(saved["fit_series"]) | set(json.loads(
        (predict_run / "splits.json").read_text())["val"])  # fmt: skip
    assert len(evaluated) + len(excluded) == own["data"]["stocks_kept"] and not evaluated & excluded
    assert not set(own_splits["evaluated"]) & set(saved["fit_series"])
    assert refit_splits["references_fitted_on"] == fit["fit_on"]
    _check_references(one, one["n_series"])
    assert (one["n_series"], own["test_size"] > 0) == (len(own_splits["evaluated"]), True)
