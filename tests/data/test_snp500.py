"""S&P 500 data, normalization, splits, honest forecasts and baselines, on the real CSV."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstm_ae.data import snp500
from lstm_ae.data.base import names_of
from lstm_ae.errors import DataError
from lstm_ae.evaluation import forecast
from lstm_ae.figures import runs as plots
from lstm_ae.model.autoencoder import AEOutput, LSTMAutoencoder
from lstm_ae.run.crossval import repartition
from lstm_ae.train.tasks import PredictTask, Task

# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(sp500_csv) -> pd.DataFrame:
    """The real file read independently of the module under test."""
    return pd.read_csv(sp500_csv)


@pytest.fixture(scope="module")
def rec(sp500_csv):
    return snp500.load(path=str(sp500_csv), task="reconstruct", seq_len=50)


@pytest.fixture(scope="module")
def pred(sp500_csv):
    return snp500.load(path=str(sp500_csv), task="predict", seq_len=50, stride=25)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return LSTMAutoencoder(1, 8, predict=True).eval()


class LastValue(torch.nn.Module):
    """A 'model' whose next-step prediction is the last input value: the persistence forecast."""

    def forward(self, x):
        return AEOutput(recon=x, z=x[:, -1], pred=x)


# -- cleaning ---------------------------------------------------------------------------------


def test_cleaning_rule_and_kept_count(rec, raw):
    stats, series = rec.stats, rec.series
    assert (stats["stocks_in_file"], stats["stocks_kept"], stats["stocks_dropped"]) == (505, 477, 28)
    assert (stats["dropped_fewer_days"], stats["dropped_missing_value"], stats["dropped_duplicate_dates"]) == (26, 2, 0)
    assert (stats["trading_days"], stats["first_date"], stats["last_date"]) == (1007, "2014-01-02", "2017-12-29")
    # the rule, recomputed independently: a finite high on every one of the file's 1007 dates
    good = raw[raw["high"].notna()].groupby("symbol")["date"].nunique()
    expected = sorted(good.index[good == raw["date"].nunique()])
    assert series.names == expected
    assert {"AMZN", "GOOGL", "AAPL"} <= set(series.names)
    assert not {"REGN", "VRTX", "GOOG", "APTV", "DHR"} & set(series.names)  # missing high / fewer days
    assert series.values.shape == (477, 1007) and np.isfinite(series.values).all()
    assert len(series.dates) == 1007 and str(series.dates[0].date()) == "2014-01-02"


def test_declared_units_and_series(rec):
    """What the S&P data declare through the typed contract (lstm_ae.data.base)."""
    assert (rec.units.symbol, rec.units.suffix) == ("$", "dollars")
    assert isinstance(rec.units.scaler, snp500.WindowScaler) and rec.units.scaler.margin == 0.1
    assert rec.series.shown == ("AMZN", "GOOGL") and rec.series.figure == "snp500_stocks.png"
    assert rec.value_label == "daily high ($)" and rec.series.title == "S&P 500: daily high"
    for name in ("train", "val", "test"):
        split = rec.split(name)
        assert all(len(a) == len(split) for a in (split.names, split.start, split.lo, split.span))
    assert not {"series", "symbols", "dates", "scaler", "to_units", "units"} & set(rec.stats)


def test_loading_full_csv_takes_seconds(rec):
    assert rec.stats["load_time_s"] < 10.0, rec.stats["load_time_s"]


def test_gzip_and_plain_csv_read_the_same(sp500_csv, tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_bytes(gzip.decompress(sp500_csv.read_bytes()))
    a, b = snp500.read_csv(sp500_csv), snp500.read_csv(plain)
    pd.testing.assert_frame_equal(a, b)


# -- windows, splits, normalization ----------------------------------------------------------------


def test_windows_and_split_by_stock(rec):
    stocks = {k: set(names_of(rec.split(k))) for k in ("train", "val", "test")}
    assert not stocks["train"] & stocks["test"]
    assert not stocks["val"] & stocks["test"]
    assert not stocks["train"] & stocks["val"]
    assert len(stocks["train"]) + len(stocks["val"]) + len(stocks["test"]) == 477
    assert (len(stocks["train"]), len(stocks["val"]), len(stocks["test"])) == (286, 95, 96)
    assert rec.seq_len == 50 and rec.stats["windows_per_stock"] == 20  # 1007 // 50
    assert len(rec.test) == 96 * 20
    # window-major order: the first test windows are different stocks (the figures show 3 of them)
    assert len(set(rec.test.names[:3])) == 3


def test_split_depends_on_seed_only(sp500_csv, rec):
    again = snp500.load(path=str(sp500_csv), seq_len=50)
    other = snp500.load(path=str(sp500_csv), seq_len=50, seed=1)
    assert names_of(again.test) == names_of(rec.test)
    assert set(names_of(other.test)) != set(names_of(rec.test))


def test_normalization_round_trip_exact(rec, raw):
    """Every window of every split maps back to the CSV's dollars to float32 precision."""
    table = raw.pivot(index="date", columns="symbol", values="high")
    for name in ("train", "val", "test"):
        split = rec.split(name)
        dollars = rec.units.to_units(split, split.x.numpy())[..., 0]
        cols = table.columns.get_indexer(split.names)
        rows = split.start[:, None] + np.arange(rec.seq_len)
        truth = table.to_numpy()[rows, cols[:, None]]
        np.testing.assert_allclose(dollars, truth, rtol=2e-7 * 4, atol=0)
        assert split.x.min() >= 0.0 and split.x.max() <= 1.0
    # the scaler itself is exact in float64
    v = rec.series.values[:5, :49]
    scaler = rec.units.scaler
    lo, span = scaler.fit(v)
    np.testing.assert_allclose(scaler.invert(scaler.apply(v, lo, span), lo, span), v, rtol=1e-13)


def test_reconstruct_scales_on_the_whole_window(rec):
    m = rec.units.scaler.margin
    x = rec.test.x[..., 0]
    np.testing.assert_allclose(x.min(1).values, m / (1 + 2 * m), atol=1e-6)
    np.testing.assert_allclose(x.max(1).values, (1 + m) / (1 + 2 * m), atol=1e-6)


def test_predict_scaling_uses_inputs_only(pred):
    """No look-ahead in training data: min/max come from x_1..x_{T-1}, never from the target x_T."""
    assert pred.stats["scale_on"] == "inputs"
    m = pred.units.scaler.margin
    x = pred.test.x[..., 0]
    np.testing.assert_allclose(x[:, :-1].min(1).values, m / (1 + 2 * m), atol=1e-6)
    np.testing.assert_allclose(x[:, :-1].max(1).values, (1 + m) / (1 + 2 * m), atol=1e-6)
    last = x[:, -1]
    assert ((last < 0) | (last > 1)).any()  # some targets leave the margin: they were not used to scale
    assert 0.0 < pred.stats["targets_outside_unit"] < 0.1


def test_cv_repartition_keeps_test_and_separates_stocks(rec):
    a, b = repartition(rec, 0, 0), repartition(rec, 1, 0)
    for fold in (a, b):
        tr, va = set(names_of(fold.train)), set(names_of(fold.val))
        assert not tr & va and len(va) == 95 and len(tr | va) == 381
        assert fold.test is rec.test
        # figures of a re-drawn validation window show its own dates and dollars
        xs, ys, label = plots._series(fold, "val", 0, fold.val.x[0].numpy())
        row, start = rec.series.rows([fold.val.names[0]])[0], fold.val.start[0]
        np.testing.assert_allclose(ys, rec.series.values[row, start : start + 50], rtol=1e-6)
        assert label == "date" and list(xs) == list(rec.series.dates[start : start + 50])
    assert set(names_of(a.val)) != set(names_of(b.val))


def test_reconstruction_errors_in_dollars(rec, tiny_model, tmp_path):
    """Task.extra_test_metrics on S&P data: the reconstruction MSE in dollars, against the CSV's values."""
    metrics = Task().extra_test_metrics(tiny_model, rec, "cpu", tmp_path)
    with torch.inference_mode():
        recon = tiny_model(rec.test.x).recon.numpy()[..., 0]
    test = rec.test
    rows = rec.series.rows(test.names)
    truth = rec.series.values[rows[:, None], test.start[:, None] + np.arange(50)]
    expected = np.mean((recon * test.span[:, None] + test.lo[:, None] - truth) ** 2)
    assert metrics["recon_mse_dollars"] == pytest.approx(expected, rel=1e-5)
    assert metrics["units"] == "$" and metrics["figures"] == ["snp500_stocks.png"]
    assert (tmp_path / "snp500_stocks.png").stat().st_size > 10_000
    splits = json.loads((tmp_path / "splits.json").read_text())
    assert splits["test"] == names_of(rec.test)


# -- honest forecasts -------------------------------------------------------------------------------


def test_no_look_ahead_in_scored_forecasts(pred, tiny_model):
    """Changing the values after t must not move the forecast of x_{t+1}."""
    series, _, _ = forecast._test_series(pred)
    series = series[:4]
    scaler, window = pred.units.scaler, pred.seq_len - 1
    base = forecast.one_step(tiny_model, series, window, scaler)
    t = 500  # the forecast of x_{t+1} = series[:, t+1] ... uses series[:, t+1-window : t+1]
    changed = series.copy()
    changed[:, t + 1 :] = changed[:, t + 1 :] * 3.0 + 50.0
    moved = forecast.one_step(tiny_model, changed, window, scaler)
    j = t + 1 - window  # column of the forecast of day t+1
    np.testing.assert_array_equal(moved.forecast[:, : j + 1], base.forecast[:, : j + 1])
    assert not np.allclose(moved.forecast[:, j + 1], base.forecast[:, j + 1])  # later days do see it
    # why the scored forecast must be the LAST output: an earlier in-window output moves with the future
    win = pred.test.x[:8, :-1].clone()
    later = win.clone()
    later[:, 30:] += 0.3
    with torch.inference_mode():
        a, b = tiny_model(win).pred[:, 20, 0], tiny_model(later).pred[:, 20, 0]
    assert (a - b).abs().max() > 1e-4


def test_multi_step_feeds_its_own_predictions(pred, tiny_model):
    assert forecast.multi_step_context(PredictTask(), pred) == 49  # default: the training input length T-1
    ctx = 25
    seqs, titles, dates = forecast.multi_step_sequences(pred, ctx)
    assert seqs.shape == (96 * (1007 // 50), 50) and len(set(titles[:3])) == 3
    row = pred.series.names.index(titles[100].removeprefix("test "))
    np.testing.assert_array_equal(seqs[100], pred.series.values[row, 50:100])  # 2nd segment of a stock
    assert dates[100][0] == pred.series.dates[50]
    seqs = seqs[:6]
    scaler = pred.units.scaler
    ms = forecast.multi_step(tiny_model, seqs, ctx, scaler)
    # 1) the true future is never read: changing it leaves the multi-step forecasts unchanged ...
    changed = seqs.copy()
    changed[:, ctx:] *= 2.0
    ms2 = forecast.multi_step(tiny_model, changed, ctx, scaler)
    np.testing.assert_array_equal(ms2.multi, ms.multi)
    assert not np.allclose(ms2.one[:, 1:], ms.one[:, 1:])  # ... while one-step forecasts (true history) move
    # 2) step h's window is the known values followed by the model's own forecasts
    for h in (1, 2, 10):
        window = np.concatenate([seqs[:, h:ctx], ms.multi[:, :h]], axis=1)
        expected, _, _ = forecast.predict_next(tiny_model, window, scaler)
        np.testing.assert_allclose(ms.multi[:, h], expected, rtol=1e-12)
    # the first step has only true values, so it equals the one-step forecast
    np.testing.assert_allclose(ms.multi[:, 0], ms.one[:, 0], rtol=1e-12)


def test_persistence_baseline_on_hand_made_series():
    series = np.array([[10.0, 12.0, 11.0, 15.0, 14.0, 20.0]])
    scaler = snp500.WindowScaler(0.1)
    os_ = forecast.one_step(LastValue(), series, 3, scaler)
    np.testing.assert_array_equal(os_.target, [[15.0, 14.0, 20.0]])
    np.testing.assert_array_equal(os_.persistence, [[11.0, 15.0, 14.0]])
    np.testing.assert_allclose(os_.forecast, os_.persistence, rtol=1e-6)  # the stub forecasts x_t
    spans = np.array([(12 - 10) * 1.2, (15 - 11) * 1.2, (15 - 11) * 1.2])  # window range x (1 + 2 margin)
    np.testing.assert_allclose(os_.span[0], spans)
    score = forecast.compare(os_.persistence, os_.persistence + 0.0, os_.target, os_.span, "dollars")
    assert score["persistence_mse_dollars"] == pytest.approx((16 + 1 + 36) / 3)
    assert score["persistence_mse"] == pytest.approx(np.mean((np.array([4.0, -1.0, 6.0]) / spans) ** 2))
    assert score["ratio"] == pytest.approx(1.0)
    ms = forecast.multi_step(LastValue(), series, 3, scaler)
    np.testing.assert_array_equal(ms.flat, [[11.0, 11.0, 11.0]])  # last known value held
    np.testing.assert_array_equal(ms.naive, [[11.0, 15.0, 14.0]])  # previous true value
    np.testing.assert_allclose(ms.multi, ms.flat, rtol=1e-6)  # fed its own forecasts: stays flat
    rows = forecast.per_horizon(ms, "dollars")
    assert [r["multi_persistence_mse_dollars"] for r in rows] == pytest.approx([16.0, 9.0, 81.0])
    assert [r["one_step_persistence_mse_dollars"] for r in rows] == pytest.approx([16.0, 1.0, 36.0])


# -- bad CSVs ---------------------------------------------------------------------------------------

GOOD = "symbol,date,open,high,low,close,volume\n"


def _rows(symbols=("AAA", "BBB", "CCC", "DDD"), days=5, holes=False, header=True):
    """A small CSV body; holes=True blanks the high of stock k on day k (no stock stays complete)."""
    dates = pd.bdate_range("2016-01-04", periods=days).strftime("%Y-%m-%d")
    lines = [GOOD.strip()] if header else []
    for k, sym in enumerate(symbols):
        for i, d in enumerate(dates):
            high = "" if holes and i == k % days else f"{2.0 + i}"
            lines.append(f"{sym},{d},1.0,{high},0.5,1.5,100")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing_column.csv", "symbol,date,open,low,close,volume\nA,2016-01-04,1,1,1,1\n", "missing column(s) high"),
        (
            "bad_date.csv",
            GOOD + "AAA,2016-01-04,1,2,1,1,1\nAAA,2016-13-45,1,2,1,1,1\n",
            "unparsable date '2016-13-45' on line 3",
        ),
        (
            "bad_number.csv",
            GOOD + "AAA,2016-01-04,1,2,1,1,1\nAAA,2016-01-05,1,n/a?,1,1,1\n",
            "column high has a non-numeric value 'n/a?' on line 3",
        ),
        ("empty.csv", "", "empty file"),
        ("header_only.csv", GOOD, "no data rows"),
        ("no_stock.csv", _rows(holes=True), "no usable stock"),
        ("two_stocks.csv", _rows(("AAA", "BBB")), "only 2 usable stock(s)"),
        ("all_twice.csv", _rows() + _rows(header=False), "every one of the 4 symbols has duplicated (date, symbol)"),
    ],
)
def test_bad_csv_one_line_errors(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError) as err:
        snp500.load(path=str(path), seq_len=3)
    message = str(err.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_missing_file_names_path_and_source(tmp_path):
    path = tmp_path / "nowhere" / "all_stocks.csv"
    with pytest.raises(DataError) as err:
        snp500.load(path=str(path))
    message = str(err.value)
    assert str(path) in message and "Kaggle" in message and "S&P 500 stock prices 2014-2017" in message
    assert "dataset.path" in message and "\n" not in message


def test_corrupt_gzip_is_one_line_error(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress((GOOD + _rows()).encode())[:40])
    with pytest.raises(DataError, match=r"not a readable CSV") as err:
        snp500.load(path=str(path), seq_len=3)
    assert "\n" not in str(err.value)


def test_small_clean_csv_and_name_alias(tmp_path):
    """The Kaggle 5-year file names the symbol column 'Name' and puts it last; a short stock is dropped."""
    df = pd.read_csv(io.StringIO(_rows(days=6) + "EEE,2016-01-04,1,2,1,1,1\n"))
    path = tmp_path / "five_year.csv"
    df.rename(columns={"symbol": "Name"})[["date", "open", "high", "low", "close", "volume", "Name"]].to_csv(
        path, index=False
    )
    data = snp500.load(path=str(path), seq_len=3, splits=(0.5, 0.25, 0.25))
    assert data.stats["stocks_kept"] == 4 and data.stats["dropped_fewer_days"] == 1
    assert data.stats["windows_per_stock"] == 2 and len(data.train) == 4


def test_duplicated_rows_drop_their_stock_with_one_line_naming_the_first(tmp_path, caplog):
    """Which of two rows for the same (date, symbol) is right is unknowable: the stock is dropped, and
    the log names the first duplicate."""
    path = tmp_path / "dups.csv"
    body = _rows(("AAA", "BBB", "CCC", "DDD", "EEE"), days=6)
    path.write_text(body + "CCC,2016-01-05,1.0,9.0,0.5,1.5,100\n")
    with caplog.at_level("WARNING"):
        data = snp500.load(path=str(path), seq_len=3, splits=(0.5, 0.25, 0.25))
    assert data.stats["stocks_kept"] == 4 and data.stats["dropped_duplicate_dates"] == 1
    (line,) = [r.getMessage() for r in caplog.records if "duplicated" in r.getMessage()]
    assert "1 stock(s) have duplicated (date, symbol) rows, the first CCC on 2016-01-05; they are dropped" in line
