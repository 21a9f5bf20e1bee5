"""Honest forecasts, persistence baselines and errors in real units.

Inside one training window the encoder reads x_1..x_{T-1} before the decoder emits any
prediction, so ỹ_t for t < T-1 is made after x_{t+1} was seen. A *scored* forecast is therefore
always the last output of a window that ends at the last known value: the forecast of x_{t+1}
comes from the window x_{t-L+1..t} alone, scaled with the min/max of that window only
(the dataset's scaler), and mapped back to real units with the inverse of that scaling.

- one-step: for every test series and every step t+1 with L steps before it, the forecast of
  x_{t+1} from the L true values before it (L = the model's training input length, T-1);
  baseline: persistence, x̂_{t+1} = x_t.
- multi-step (as the assignment defines it): for a test sequence of length T', feed
  x_1..x_{T'/2}, take the forecast of the next value, slide the window by one with that
  forecast in place of the unknown value, and repeat until the sequence is complete. Compared
  with one-step forecasts of the same days (true history of the same length each step) and
  with persistence (the last known value held flat; one-step persistence = previous true value).
  The decoder emits position t of a window of the length it was trained on, so a shorter window
  asks it a different question (measured: a model trained on 49-day windows forecasts 25-day
  windows ~25x worse than persistence). When the data declare whole series (SequenceData.series)
  the test sequences are therefore T' = 2(T-1) steps: every window the model reads has its
  training length T-1.

Errors are MSE in normalized units (real-unit error divided by the span of the scaling of the
window the forecast started from: its own window for one-step, the first, fully known window for
multi-step) and, when the data declare units (SequenceData.units), in those units: metric names
end in _<units.suffix>.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from lstm_ae.artifacts import write_csv, write_json
from lstm_ae.data.base import FixedScaler, SequenceData, names_of

log = logging.getLogger(__name__)


# -- forecasts ----------------------------------------------------------------------------------
@torch.inference_mode()
def predict_next(model, windows: np.ndarray, scaler, device="cpu", batch_size: int = 8192):
    """Forecast of the value after each window (N, L) in real units: the last prediction
    output, made after the encoder has read exactly the window. Returns forecast, lo, span (N,)."""
    model.eval()
    windows = np.asarray(windows, dtype=np.float64)
    lo, span = scaler.fit(windows)
    x = torch.from_numpy(scaler.apply(windows, lo, span).astype(np.float32)).unsqueeze(-1)
    out = np.empty(len(windows), dtype=np.float64)
    for start in range(0, len(windows), batch_size):
        pred = model(x[start : start + batch_size].to(device)).pred
        out[start : start + batch_size] = pred[:, -1, 0].float().cpu().numpy()
    return scaler.invert(out[:, None], lo, span)[:, 0], lo, span


def one_step(model, series: np.ndarray, window: int, scaler, device="cpu", every: int = 1) -> dict[str, np.ndarray]:
    """One-step forecasts of series[:, j] for j = window, window+every, ... < D from series[:, j-window:j].

    Returns arrays (S, n): forecast, target, persistence (= series[:, j-1]), span, and day (n,) = j."""
    series = np.asarray(series, dtype=np.float64)
    n_series, n_days = series.shape
    if n_days <= window:
        raise ValueError(f"series of {n_days} values is too short for windows of {window}")
    days = np.arange(window, n_days, every)
    wins = np.lib.stride_tricks.sliding_window_view(series, window, axis=1)[:, days - window]  # (S, n, window)
    forecast, _, span = predict_next(model, wins.reshape(-1, window), scaler, device)
    shape = (n_series, len(days))
    return {
        "forecast": forecast.reshape(shape),
        "target": series[:, days],
        "persistence": series[:, days - 1],
        "span": span.reshape(shape),
        "day": days,
    }


def multi_step(model, seqs: np.ndarray, context: int, scaler, device="cpu") -> dict[str, np.ndarray]:
    """Multi-step and one-step forecasts of seqs[:, context:] (N, H) from `context` values.

    multi: each step's window holds the model's own earlier forecasts for the unknown days;
    one: each step's window holds the true values; flat: the last known value held flat;
    naive: the previous true value (one-step persistence); span0: scale of the known window."""
    seqs = np.asarray(seqs, dtype=np.float64)
    n, length = seqs.shape
    horizon = length - context
    if context < 1 or horizon < 1:
        raise ValueError(f"context {context} must leave at least one value of {length} to forecast")
    buf = seqs.copy()
    buf[:, context:] = np.nan  # the unknown future: any use of it would show as NaN
    for h in range(horizon):
        buf[:, context + h], _, _ = predict_next(model, buf[:, h : h + context], scaler, device)
    wins = np.lib.stride_tricks.sliding_window_view(seqs, context, axis=1)[:, :horizon]  # (N, H, context)
    one, _, _ = predict_next(model, wins.reshape(-1, context), scaler, device)
    _, span0 = scaler.fit(seqs[:, :context])
    return {
        "multi": buf[:, context:],
        "one": one.reshape(n, horizon),
        "target": seqs[:, context:],
        "flat": np.repeat(seqs[:, context - 1 : context], horizon, axis=1),
        "naive": seqs[:, context - 1 : -1],
        "span0": span0,
    }


# -- scores -------------------------------------------------------------------------------------
def compare(forecast, baseline, target, span, suffix: str | None) -> dict:
    """Model vs baseline MSE in normalized units and, with a units suffix, in real units (keys
    ending in _<suffix>), with their ratio."""
    f, b, y = (np.asarray(a, dtype=np.float64) for a in (forecast, baseline, target))
    span = np.broadcast_to(np.asarray(span, dtype=np.float64), y.shape)
    model_n = float(np.mean(((f - y) / span) ** 2))
    base_n = float(np.mean(((b - y) / span) ** 2))
    out = {
        "n": int(y.size),
        "model_mse": model_n,
        "persistence_mse": base_n,
        "ratio": model_n / base_n if base_n > 0 else float("inf"),
    }
    if suffix:
        model_u = float(np.mean((f - y) ** 2))
        base_u = float(np.mean((b - y) ** 2))
        out.update(
            {
                f"model_mse_{suffix}": model_u,
                f"persistence_mse_{suffix}": base_u,
                f"ratio_{suffix}": model_u / base_u if base_u > 0 else float("inf"),
                f"model_rmse_{suffix}": model_u**0.5,
                f"persistence_rmse_{suffix}": base_u**0.5,
            }
        )
    out["model_beats_persistence"] = bool(out["ratio"] < 1.0)  # in normalized units
    if suffix:
        out[f"model_beats_persistence_{suffix}"] = bool(out[f"ratio_{suffix}"] < 1.0)
    return out


def per_horizon(ms: dict[str, np.ndarray], suffix: str | None) -> list[dict]:
    rows = []
    span = ms["span0"][:, None]
    for h in range(ms["target"].shape[1]):
        y = ms["target"][:, h]
        row = {"horizon": h + 1}
        for key, name in (
            ("multi", "multi_model"),
            ("flat", "multi_persistence"),
            ("one", "one_step_model"),
            ("naive", "one_step_persistence"),
        ):
            err = ms[key][:, h] - y
            row[f"{name}_mse"] = float(np.mean((err / span[:, 0]) ** 2))
            if suffix:
                row[f"{name}_mse_{suffix}"] = float(np.mean(err**2))
        rows.append(row)
    return rows


# -- what tasks call after training ---------------------------------------------------------------
def _suffix(data: SequenceData) -> str | None:
    return data.units.suffix if data.units else None


def _test_values(data: SequenceData) -> np.ndarray:
    """The test windows (N, T), in real units when the data declare them."""
    x = data.test.x.numpy()
    real = data.units.to_units(data.test, x) if data.units else x.astype(np.float64)
    return real[..., 0]


def _test_series(data: SequenceData) -> tuple[np.ndarray, list[str], object]:
    """Full real-unit series of the test items: their whole series when the data declare them,
    else the test windows themselves."""
    if data.series is not None:
        names = names_of(data.test)
        return data.series.values[data.series.rows(names)], names, data.series.dates
    names = [f"test #{i}" for i in range(len(data.test))]
    return _test_values(data), names, None


def multi_step_context(task, data: SequenceData) -> int:
    """Known values before a multi-step forecast. Default: the model's training input length T-1
    when whole series are available (test sequences of 2(T-1) steps, so every window the model reads
    has the length it was trained on), else T//2 of the test windows (the assignment's literal T/2)."""
    context = getattr(task, "multistep_context", None)
    if context:
        return int(context)
    return data.seq_len - 1 if data.series is not None else data.seq_len // 2


def multi_step_sequences(data: SequenceData, context: int) -> tuple[np.ndarray, list[str], list | None]:
    """Test sequences for multi-step forecasts, (n, length) in real units, with titles and dates.

    With whole series: non-overlapping segments of 2 x context steps of every test series, ordered
    segment-major (the first ones are different series). Otherwise: the test windows."""
    if data.series is not None:
        series, names, dates = _test_series(data)
        length = 2 * context
        if series.shape[1] < length:
            raise ValueError(f"series of {series.shape[1]} steps are too short for {context} + {context} steps")
        starts = np.arange(0, series.shape[1] - length + 1, length)
        idx = starts[:, None] + np.arange(length)[None, :]
        seqs = series[:, idx].transpose(1, 0, 2).reshape(-1, length)
        titles = [f"test {name}" for _ in starts for name in names]
        seq_dates = None if dates is None else [dates[s : s + length] for s in starts for _ in names]
        return seqs, titles, seq_dates
    seqs = _test_values(data)
    return seqs, [data.item_name("test", i) for i in range(len(seqs))], None


@torch.inference_mode()
def data_metrics(task, model, data: SequenceData, device, out_dir) -> dict:
    """What the data's declarations add to the test results (lstm_ae.data.base): the reconstruction
    error of the test windows in real units (units), which named series went to which split
    (splits.json), the figure of the series named in series.shown. Always has 'figures'."""
    from lstm_ae import plots

    out_dir = Path(out_dir)
    metrics = {}
    if data.units is not None:
        metrics = _unit_errors(task, model, data, device)
    if data.test.names is not None:
        write_json(out_dir / "splits.json", {k: names_of(data.split(k)) for k in ("train", "val", "test")})
    metrics["figures"] = plots.plot_shown_series(data, out_dir)
    return metrics


def _unit_errors(task, model, data: SequenceData, device) -> dict:
    """Reconstruction MSE, RMSE and MAE of the test windows in the data's real units."""
    model.eval()
    inp, _ = task.split_batch(data.test.x)
    recon = np.concatenate(
        [model(inp[s : s + 4096].to(device)).recon.float().cpu().numpy() for s in range(0, len(inp), 4096)]
    )
    units = data.units
    real_in, real_rec = units.to_units(data.test, inp.numpy()), units.to_units(data.test, recon)
    mse_u = float(np.mean((real_in - real_rec) ** 2))
    u = units.suffix
    metrics = {
        f"recon_mse_{u}": mse_u,
        f"recon_rmse_{u}": mse_u**0.5,
        f"recon_mae_{u}": float(np.mean(np.abs(real_in - real_rec))),
        "units": units.symbol,
    }
    log.info(
        "test reconstruction in %s: MSE %.4g, RMSE %.4g, MAE %.4g",
        units.symbol,
        mse_u,
        mse_u**0.5,
        metrics[f"recon_mae_{u}"],
    )
    return metrics


def forecast_metrics(task, model, data, device, out_dir, n_plot: int = 3) -> dict:
    """Honest one-step and multi-step forecasts of the test items vs persistence, with figures."""
    from lstm_ae import plots

    out_dir = Path(out_dir)
    metrics = data_metrics(task, model, data, device, out_dir)
    units, suffix = data.units, _suffix(data)
    scaler = units.scaler if units else FixedScaler()
    window = data.seq_len - 1  # the input length the model was trained on

    series, names, dates = _test_series(data)
    every = int(getattr(task, "forecast_every", 1))
    os_ = one_step(model, series, window, scaler, device, every)
    one = compare(os_["forecast"], os_["persistence"], os_["target"], os_["span"], suffix)
    one.update(window=window, every=every, n_series=len(names))
    metrics["one_step"] = one

    context = multi_step_context(task, data)
    seqs, titles, seq_dates = multi_step_sequences(data, context)
    ms = multi_step(model, seqs, context, scaler, device)
    span0 = ms["span0"][:, None]
    multi = compare(ms["multi"], ms["flat"], ms["target"], span0, suffix)
    multi.update(context=context, horizon=seqs.shape[1] - context, n_sequences=len(seqs))
    same_days = compare(ms["one"], ms["naive"], ms["target"], span0, suffix)
    multi["one_step_same_days"] = same_days
    metrics["multi_step"] = multi
    # flat copies of the headline ratios, for sweep tables (lstm_ae.report reads numbers only)
    for name, score in (("one_step", one), ("multi_step", multi)):
        metrics[f"{name}_ratio"] = score["ratio"]
        if suffix:
            metrics[f"{name}_ratio_{suffix}"] = score[f"ratio_{suffix}"]
    rows = per_horizon(ms, suffix)
    write_csv(out_dir / "error_vs_horizon.csv", rows)

    unit_label = units.symbol if units else "normalized"
    k = min(n_plot, len(names))
    shown = os_ if every == 1 else one_step(model, series[:k], window, scaler, device)  # every day of the shown series
    plots.plot_one_step(
        dates,
        names[:k],
        {key: shown[key][:k] for key in ("forecast", "target", "persistence")},
        window,
        one,
        out_dir / "forecast_one_step.png",
        data.value_label if units else "value",
        units,
    )
    idx = list(range(min(n_plot, len(seqs))))
    plots.plot_multi_step(
        None if seq_dates is None else [seq_dates[i] for i in idx],
        [titles[i] for i in idx],
        seqs[idx],
        {key: ms[key][idx] for key in ("multi", "one", "flat")},
        context,
        multi,
        out_dir / "forecast_multi_step.png",
        data.value_label if units else "value",
        units,
    )
    plots.plot_error_vs_horizon(rows, multi, out_dir / "error_vs_horizon.png", units)
    metrics["figures"] = metrics["figures"] + [
        "forecast_one_step.png",
        "forecast_multi_step.png",
        "error_vs_horizon.png",
    ]
    log.info(
        "one-step forecasts (%d, window %d): model MSE %.4g vs persistence %.4g, ratio %.3f (normalized)%s",
        one["n"],
        window,
        one["model_mse"],
        one["persistence_mse"],
        one["ratio"],
        f"; in {unit_label}: {one[f'model_mse_{suffix}']:.4g} vs {one[f'persistence_mse_{suffix}']:.4g}, "
        f"ratio {one[f'ratio_{suffix}']:.3f}"
        if units
        else "",
    )
    log.info(
        "multi-step forecasts (%d sequences, context %d, horizon %d): model MSE %.4g vs flat persistence %.4g, ratio %.3f; "
        "one-step on the same days: ratio %.3f (normalized)",
        len(seqs),
        context,
        multi["horizon"],
        multi["model_mse"],
        multi["persistence_mse"],
        multi["ratio"],
        same_days["ratio"],
    )
    return metrics
