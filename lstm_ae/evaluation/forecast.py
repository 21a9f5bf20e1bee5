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
  asks it a different question (docs/snp500.md: far worse than persistence). When the data declare
  whole series (SequenceData.series)
  the test sequences are therefore T' = 2(T-1) steps: every window the model reads has its
  training length T-1.

Errors are MSE in normalized units (real-unit error divided by the span of the scaling of the
window the forecast started from: its own window for one-step, the first, fully known window for
multi-step) and, when the data declare units (SequenceData.units), in those units: metric names
end in _<units.suffix>.

References (lstm_ae.evaluation.baselines) are scored on the same forecasts next to persistence: drift over the
window, AR(1) on differences and AR(2) on levels, fitted by least squares on the training series'
windows scaled exactly like the model's inputs (never on an evaluated series), and iterated for
multi-step. Every ratio carries a 95 % interval from N_RESAMPLES bootstrap resamples of the test
series and blocks of days jointly (Resampling: the series share the market's days), and a verdict
("beats", "worse", "not distinguishable") that only a whole interval on one side of 1 gives; the
model_beats_* flags are the verdicts (null when the interval holds 1). Series with gaps (Series.breaks) are forecast within
each gap-free stretch only; when no stretch holds a multi-step sequence, multi-step is skipped with
a note and the rest is still scored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lstm_ae.artifacts import write_csv, write_json
from lstm_ae.data.base import FixedScaler, SequenceData, names_of
from lstm_ae.errors import DataError, first_line
from lstm_ae.evaluation import baselines
from lstm_ae.files import REFERENCES, SPLITS

log = logging.getLogger(__name__)

N_RESAMPLES = 1000  # bootstrap resamples of the test series behind every 95 % interval
AR_KEY = "ar1_diff"  # the linear reference the model is held to (model_beats_ar)


# -- forecasts ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OneStepForecast:
    """One-step forecasts of S series on n days (arrays (S, n), in real units)."""

    forecast: np.ndarray  # the model's, from the window of true values before each day
    target: np.ndarray  # the true value of each day
    persistence: np.ndarray  # the day before's value
    span: np.ndarray  # the scale of each window (normalized errors divide by it)
    windows: np.ndarray  # (S, n, window) the known values
    day: np.ndarray  # (n,) the forecast days' steps

    def first(self, k: int) -> OneStepForecast:
        """The first k series."""
        return OneStepForecast(self.forecast[:k], self.target[:k], self.persistence[:k], self.span[:k],
                               self.windows[:k], self.day)  # fmt: skip


@dataclass(frozen=True)
class MultiStepForecast:
    """Forecasts of the H days after `context` known values of N sequences (arrays (N, H))."""

    multi: np.ndarray  # each step's window holds the model's own earlier forecasts for unknown days
    one: np.ndarray  # each step's window holds the true values (one-step on the same days)
    target: np.ndarray
    flat: np.ndarray  # the last known value held flat (multi-step persistence)
    naive: np.ndarray  # the previous true value (one-step persistence)
    span0: np.ndarray  # (N,) the scale of the known window

    def arrays(self) -> dict[str, np.ndarray]:
        """The forecasts by name, as per_horizon and the figures take them."""
        return {"multi": self.multi, "one": self.one, "flat": self.flat, "naive": self.naive}


@dataclass(frozen=True)
class ShownSeries:
    """The first test series' one-step forecasts on every day, for forecast_one_step.png."""

    forecasts: OneStepForecast
    ar: np.ndarray  # the AR reference's forecasts of the same days
    names: list[str]
    dates: np.ndarray | None  # the forecast days' dates (None: steps)
    gaps: tuple[int, ...] = ()  # indices of forecast days that start a new gap-free stretch


@dataclass(frozen=True)
class PlottedMultiStep:
    """What forecast_multi_step.png and error_vs_horizon.png draw."""

    seqs: np.ndarray
    titles: list[str]
    dates: list | None
    forecasts: MultiStepForecast
    ar: np.ndarray | None
    rows: list[dict]


@dataclass(frozen=True)
class Forecaster:
    """A trained model with what scoring it needs: its data, device, scaler and the fitted references."""

    model: object
    data: SequenceData
    device: object
    scaler: object
    refs: list
    suffix: str | None


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


def stretch_of(steps, breaks=()) -> np.ndarray:
    """The gap-free stretch (0, 1, ...) each step lies in, given the steps where a stretch starts."""
    return np.searchsorted(np.asarray(breaks, dtype=np.int64), steps, side="right")


def forecast_days(n_days: int, window: int, every: int = 1, breaks=()) -> np.ndarray:
    """Steps j = window, window+every, ... < n_days whose window j-window..j-1 and target j lie in one
    gap-free stretch (no break p with j-window < p <= j)."""
    days = np.arange(window, n_days, every)
    stretch = stretch_of(np.arange(n_days), breaks)
    return days[stretch[days - window] == stretch[days]]


def one_step(
    model, series: np.ndarray, window: int, scaler, device="cpu", every: int = 1, breaks=()
) -> OneStepForecast:
    """One-step forecasts of series[:, j] for j = window, window+every, ... < D from series[:, j-window:j]
    (windows that span a break skipped)."""
    series = np.asarray(series, dtype=np.float64)
    n_series, n_days = series.shape
    days = forecast_days(n_days, window, every, breaks)
    if len(days) == 0:
        raise ValueError(f"series of {n_days} values hold no gap-free window of {window} and a next value")
    wins = np.lib.stride_tricks.sliding_window_view(series, window, axis=1)[:, days - window]  # (S, n, window)
    forecast, _, span = predict_next(model, wins.reshape(-1, window), scaler, device)
    shape = (n_series, len(days))
    return OneStepForecast(
        forecast=forecast.reshape(shape),
        target=series[:, days],
        persistence=series[:, days - 1],
        span=span.reshape(shape),
        windows=wins,
        day=days,
    )


def multi_step(model, seqs: np.ndarray, context: int, scaler, device="cpu") -> MultiStepForecast:
    """Multi-step and one-step forecasts of seqs[:, context:] (N, H) from `context` values."""
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
    return MultiStepForecast(
        multi=buf[:, context:],
        one=one.reshape(n, horizon),
        target=seqs[:, context:],
        flat=np.repeat(seqs[:, context - 1 : context], horizon, axis=1),
        naive=seqs[:, context - 1 : -1],
        span0=span0,
    )


# -- references ---------------------------------------------------------------------------------
def references(window: int) -> list:
    """The reference forecasters scored next to persistence (windows of `window` >= 2 values)."""
    return [baselines.Drift(window - 1), baselines.LinearAR(1, "differences"), baselines.LinearAR(2, "levels")]


def _scaled(windows: np.ndarray, scaler) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, span = scaler.fit(windows)
    return scaler.apply(windows, lo, span), lo, span


def fit_references(data: SequenceData, window: int, scaler) -> tuple[list, dict]:
    """References fitted on the training split: every gap-free window of its whole series (its items
    when there are no series), minus any series also evaluated, scaled like the model's inputs."""
    if data.series is not None:
        evaluated = set(names_of(data.test))
        train = names_of(data.train)
        names = [n for n in train if n not in evaluated]
        values = data.series.values[data.series.rows(names or train)]
        days = forecast_days(values.shape[1], window, 1, data.series.breaks)
        wins = np.lib.stride_tricks.sliding_window_view(values, window, axis=1)[:, days - window]
        targets = values[:, days]
        source = f"{len(names or train)} training series" + ("" if names else " (also evaluated)")
        fit_series = names or train
    else:
        wins, targets, _ = baselines.next_value_windows(_split_values(data, "train"), window)
        source = f"{len(data.train)} training items"
        fit_series = []
    flat = wins.reshape(-1, window)
    x, lo, span = _scaled(flat, scaler)
    y = (targets.reshape(-1) - lo) / span
    refs = [ref.fit(x, y) for ref in references(window)]
    info = {"fit_on": source, "n_windows": int(len(y))}
    info.update({f"{ref.key}_coef": ref.coef.tolist() for ref in refs if isinstance(ref, baselines.LinearAR)})
    return refs, {**info, "fit_series": list(fit_series)}


def save_references(path: Path, refs: list, info: dict, window: int) -> None:
    """The fitted references (their coefficients and what they were fitted on) as JSON."""
    entries = [{"key": r.key, "kind": type(r).__name__, **_ref_params(r)} for r in refs]
    write_json(path, {"window": window, **info, "references": entries})


def _ref_params(ref) -> dict:
    if isinstance(ref, baselines.LinearAR):
        return {"order": ref.order, "on": ref.on, "coef": ref.coef.tolist()}
    if isinstance(ref, baselines.Drift):
        return {"k": ref.k}
    return {}


def load_references(path: Path, window: int) -> tuple[list, dict]:
    """References saved by save_references (at training time), for windows of `window` values."""
    try:
        saved = json.loads(Path(path).read_text())
        refs = []
        for e in saved["references"]:
            if e["kind"] == "LinearAR":
                refs.append(baselines.LinearAR(e["order"], e["on"], np.asarray(e["coef"], dtype=np.float64)))
            elif e["kind"] == "Drift":
                refs.append(baselines.Drift(e["k"]))
            else:
                raise KeyError(e["kind"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a references file saved at training time ({first_line(exc)})") from None
    if saved["window"] != window:
        raise DataError(f"{path}: references for windows of {saved['window']} values, the model reads {window}")
    info = {k: v for k, v in saved.items() if k not in ("references", "window", "fit_series")}
    info["fit_on"] = f"{saved['fit_on']}, fitted at training time ({path})"
    return refs, info


def reference_forecasts(refs: list, windows: np.ndarray, scaler) -> dict[str, np.ndarray]:
    """Each reference's forecast of the value after each real-unit window (..., L), made on the
    window scaled like the model's input and mapped back to real units."""
    flat = np.asarray(windows, dtype=np.float64).reshape(-1, windows.shape[-1])
    x, lo, span = _scaled(flat, scaler)
    return {ref.key: (ref.predict(x) * span + lo).reshape(windows.shape[:-1]) for ref in refs}


def multi_step_references(refs: list, context: int) -> list:
    """The references that can read `context` known values: drift over at most context-1 days, and
    the fitted AR models when context >= 2."""
    out = []
    for ref in refs:
        if isinstance(ref, baselines.Drift):
            if context >= 2:
                out.append(baselines.Drift(min(ref.k, context - 1)))
        elif context >= ref.order + (ref.on == "differences"):
            out.append(ref)
    return out


def reference_multi_step(refs: list, seqs: np.ndarray, context: int, scaler) -> dict[str, np.ndarray]:
    """Each reference's multi-step forecasts of seqs[:, context:], its own forecasts fed back."""
    horizon = seqs.shape[1] - context
    return {
        ref.key: baselines.iterate(
            lambda w, r=ref: reference_forecasts([r], w, scaler)[r.key], seqs[:, :context], horizon
        )
        for ref in refs
    }


@dataclass(frozen=True)
class Resampling:
    """What the bootstrap behind every interval resamples: each forecast's series (its group) and its
    block of days. Test series of one market share their days, so the errors of one day are not
    independent across series: blocks of consecutive days are resampled jointly with the series
    (baselines.bootstrap_ratio). Without a shared calendar (items that are not windows of dated
    series) there is one block and only the series are resampled."""

    groups: np.ndarray  # (rows,): the series of each row of forecasts
    blocks: np.ndarray  # (rows, cols): the block of days of each forecast
    block_days: int | None  # the blocks' length in days; None: one block

    @classmethod
    def one_block(cls, groups, shape: tuple[int, int]) -> Resampling:
        return cls(np.asarray(groups), np.zeros(shape, dtype=np.int64), None)

    def describe(self) -> str:
        if self.block_days is None:
            return "the test series"
        return f"the test series and blocks of {self.block_days} consecutive days, jointly"

    def info(self) -> dict:
        return {"n_resamples": N_RESAMPLES, "level": 0.95, "seed": 0, "resampled": self.describe(),
                "n_groups": int(len(np.unique(self.groups))), "n_blocks": int(len(np.unique(self.blocks))),
                "block_days": self.block_days}  # fmt: skip


def verdict_flag(interval: dict) -> bool | None:
    """model_beats_*: True when the interval lies below 1, False above it, None when it holds 1."""
    return baselines.Verdict(interval["verdict"]).flag


def score_references(model_f, ref_f: dict, refs: list, truth: tuple, resampling: Resampling, suffix) -> dict:
    """References' MSE and ratio to persistence, and the model's ratio to persistence and to each
    reference, each with a 95 % interval and its verdict (Resampling); truth = (persistence, target,
    span). model_beats_persistence[_<suffix>] and model_beats_ar come from the intervals."""
    persistence, target, span = truth
    y = np.asarray(target, dtype=np.float64)
    span = np.broadcast_to(np.asarray(span, dtype=np.float64), y.shape)
    groups = np.repeat(resampling.groups, y.shape[1])
    blocks = np.broadcast_to(resampling.blocks, y.shape).reshape(-1)

    def sq(f, scale=span):
        return (((np.asarray(f) - y) / scale) ** 2).reshape(-1)

    def boot(a, b):
        return baselines.bootstrap_ratio(a, b, groups, blocks, n_resamples=N_RESAMPLES).as_dict()

    base, model = sq(persistence), sq(model_f)
    out = {"references": {}, "model_vs": {"persistence": boot(model, base)}}
    for ref in refs:
        err = sq(ref_f[ref.key])
        entry = {"name": ref.name, "mse": float(err.mean()), "vs_persistence": boot(err, base)}
        if suffix:
            entry[f"mse_{suffix}"] = float(np.mean((ref_f[ref.key] - y) ** 2))
        out["references"][ref.key] = entry
        out["model_vs"][ref.key] = boot(model, err)
    vs_p = out["model_vs"]["persistence"]
    out.update(ratio_ci=[vs_p["ci_low"], vs_p["ci_high"]], model_beats_persistence=verdict_flag(vs_p))
    if suffix:
        vs_u = boot(sq(model_f, 1.0), sq(persistence, 1.0))
        out[f"ratio_{suffix}_ci"] = [vs_u["ci_low"], vs_u["ci_high"]]
        out[f"model_beats_persistence_{suffix}"] = verdict_flag(vs_u)
    if AR_KEY in out["model_vs"]:
        vs_ar = out["model_vs"][AR_KEY]
        out.update(ratio_ar=vs_ar["ratio"], ratio_ar_ci=[vs_ar["ci_low"], vs_ar["ci_high"]],
                   model_beats_ar=verdict_flag(vs_ar))  # fmt: skip
    out["bootstrap"] = resampling.info()
    return out


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
    return out


def per_horizon(
    ms: MultiStepForecast, suffix: str | None, references: dict[str, np.ndarray] | None = None
) -> list[dict]:
    """Errors per horizon of the multi-step forecasts, the references' and the one-step ones."""
    forecasts = {**ms.arrays(), **(references or {})}
    rows = []
    span = ms.span0[:, None]
    for h in range(ms.target.shape[1]):
        y = ms.target[:, h]
        row = {"horizon": h + 1}
        for key, name in (
            ("multi", "multi_model"),
            ("flat", "multi_persistence"),
            *((key, f"multi_{key}") for key in (references or {})),
            ("one", "one_step_model"),
            ("naive", "one_step_persistence"),
        ):
            err = forecasts[key][:, h] - y
            row[f"{name}_mse"] = float(np.mean((err / span[:, 0]) ** 2))
            if suffix:
                row[f"{name}_mse_{suffix}"] = float(np.mean(err**2))
        rows.append(row)
    return rows


# -- what tasks call after training ---------------------------------------------------------------
def _suffix(data: SequenceData) -> str | None:
    return data.units.suffix if data.units else None


def _split_values(data: SequenceData, split: str = "test") -> np.ndarray:
    """A split's windows (N, T), in real units when the data declare them."""
    part = data.split(split)
    x = part.x.numpy()
    real = data.units.to_units(part, x) if data.units else x.astype(np.float64)
    return real[..., 0]


def _test_series(data: SequenceData) -> tuple[np.ndarray, list[str], object]:
    """Full real-unit series of the test items: their whole series when the data declare them,
    else the test windows themselves."""
    if data.series is not None:
        names = names_of(data.test)
        return data.series.values[data.series.rows(names)], names, data.series.dates
    names = [f"test #{i}" for i in range(len(data.test))]
    return _split_values(data), names, None


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

    With whole series: non-overlapping segments of 2 x context steps of every test series within each
    gap-free stretch, ordered segment-major (the first ones are different series); none when no
    stretch is that long. Otherwise: the test windows."""
    if data.series is not None:
        series, names, dates = _test_series(data)
        length = 2 * context
        stretches = data.series.segments()
        starts = np.array([s for a, b in stretches for s in range(a, b - length + 1, length)], dtype=np.int64)
        idx = starts[:, None] + np.arange(length)[None, :]
        seqs = series[:, idx].transpose(1, 0, 2).reshape(-1, length)
        titles = [f"test {name}" for _ in starts for name in names]
        seq_dates = None if dates is None else [dates[s : s + length] for s in starts for _ in names]
        return seqs, titles, seq_dates
    seqs = _split_values(data)
    return seqs, [data.item_name("test", i) for i in range(len(seqs))], None


@torch.inference_mode()
def data_metrics(task, model, data: SequenceData, device, out_dir) -> dict:
    """What the data's declarations add to the test results (lstm_ae.data.base): the reconstruction
    error of the test windows in real units (units), which named series went to which split
    (splits.json), the figure of the series named in series.shown. Always has 'figures'."""
    from lstm_ae.figures import runs as plots

    out_dir = Path(out_dir)
    metrics = {}
    if data.units is not None:
        metrics = _unit_errors(task, model, data, device)
    if data.test.names is not None:
        write_json(out_dir / SPLITS, {k: names_of(data.split(k)) for k in ("train", "val", "test")})
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


def forecast_metrics(task, model, data, device, out_dir) -> dict:
    """Honest one-step and multi-step forecasts of the test items vs persistence and the references,
    with figures."""
    out_dir = Path(out_dir)
    metrics = data_metrics(task, model, data, device, out_dir)
    suffix = _suffix(data)
    scaler = data.units.scaler if data.units else FixedScaler()
    window = data.seq_len - 1  # the input length the model was trained on
    if task.references:
        refs, fit_info = load_references(task.references, window)
    else:
        refs, fit_info = fit_references(data, window, scaler)
        save_references(out_dir / REFERENCES, refs, fit_info, window)
        fit_info.pop("fit_series")
    log.info(
        "references fitted on %d windows of %s: %s",
        fit_info["n_windows"],
        fit_info["fit_on"],
        ", ".join(f"{k} {np.round(v, 4).tolist()}" for k, v in fit_info.items() if k.endswith("_coef")),
    )
    forecaster = Forecaster(model, data, device, scaler, refs, suffix)
    one, shown = _one_step_scores(forecaster, window, int(getattr(task, "forecast_every", 1)))
    one["references_fit"] = fit_info
    metrics["one_step"] = one
    context = multi_step_context(task, data)
    multi, plotted = _multi_step_scores(forecaster, context, out_dir)
    metrics["multi_step"] = multi
    # flat copies of the headline ratios, for sweep tables (lstm_ae.sweep.summary reads numbers only)
    for name, score in (("one_step", one), ("multi_step", multi)):
        if "ratio" not in score:
            continue
        metrics[f"{name}_ratio"] = score["ratio"]
        if "ratio_ar" in score:
            metrics[f"{name}_ratio_ar"] = score["ratio_ar"]
        if suffix:
            metrics[f"{name}_ratio_{suffix}"] = score[f"ratio_{suffix}"]
    metrics["figures"] = metrics["figures"] + _forecast_figures(
        data, (window, one, shown), (context, multi, plotted), out_dir
    )
    _log_scores(one, multi, window, data.units)
    return metrics


def _one_step_scores(f: Forecaster, window: int, every: int) -> tuple[dict, ShownSeries]:
    """One-step forecasts of every test series (model, persistence, references) and their scores;
    also the forecasts of the first series on every day, for the figure."""
    series, names, dates = _test_series(f.data)
    breaks = f.data.series.breaks if f.data.series is not None else ()
    os_ = one_step(f.model, series, window, f.scaler, f.device, every, breaks)
    ref_f = reference_forecasts(f.refs, os_.windows, f.scaler)
    one = compare(os_.forecast, os_.persistence, os_.target, os_.span, f.suffix)
    one.update(window=window, every=every, n_series=len(names))
    if f.data.series is None:  # items that are not windows of whole series share no calendar
        resampling = Resampling.one_block(names, os_.target.shape)
    else:
        resampling = Resampling(np.asarray(names), baselines.day_blocks(os_.day, window)[None, :], window)
    truth = (os_.persistence, os_.target, os_.span)
    one.update(score_references(os_.forecast, ref_f, f.refs, truth, resampling, f.suffix))
    k = min(3, len(names))
    if every != 1:  # the figure shows every day of the first series
        os_ = one_step(f.model, series[:k], window, f.scaler, f.device, 1, breaks)
        ref_f = reference_forecasts(f.refs, os_.windows, f.scaler)
    shown_dates = None if dates is None else np.asarray(dates)[os_.day]
    gaps = tuple(int(g) for g in np.flatnonzero(np.diff(stretch_of(os_.day, breaks))) + 1)
    return one, ShownSeries(os_.first(k), ref_f[AR_KEY][:k], names[:k], shown_dates, gaps)


def _multi_step_scores(f: Forecaster, context: int, out_dir: Path) -> tuple[dict, PlottedMultiStep | None]:
    """Multi-step forecasts (model fed back, references iterated, flat persistence) and one-step
    forecasts of the same days; or a note when no test sequence of 2 x context gap-free steps exists."""
    seqs, titles, seq_dates = multi_step_sequences(f.data, context)
    if len(seqs) == 0:
        longest = max(b - a for a, b in f.data.series.segments())
        note = (
            f"multi-step skipped: no test series has {2 * context} gap-free steps ({context} known + {context} "
            f"forecast; task.multistep_context); the longest stretch has {longest}"
        )
        log.warning(note)
        return {"skipped": note, "context": context}, None
    ms = multi_step(f.model, seqs, context, f.scaler, f.device)
    refs = multi_step_references(f.refs, context)
    ref_f = reference_multi_step(refs, seqs, context, f.scaler)
    span0 = ms.span0[:, None]
    multi = compare(ms.multi, ms.flat, ms.target, span0, f.suffix)
    multi.update(context=context, horizon=seqs.shape[1] - context, n_sequences=len(seqs))
    resampling = _multi_step_resampling(f.data, titles, context)
    multi.update(score_references(ms.multi, ref_f, refs, (ms.flat, ms.target, span0), resampling, f.suffix))
    multi["one_step_same_days"] = compare(ms.one, ms.naive, ms.target, span0, f.suffix)
    rows = per_horizon(ms, f.suffix, {ref.key: ref_f[ref.key] for ref in refs})
    write_csv(out_dir / "error_vs_horizon.csv", rows)
    return multi, PlottedMultiStep(seqs, titles, seq_dates, ms, ref_f.get(AR_KEY), rows)


def _multi_step_resampling(data: SequenceData, titles: list[str], context: int) -> Resampling:
    """Multi-step sequences resampled by series and, with whole series, by segment: the sequences of
    one segment (multi_step_sequences orders them segment-major) cover the same 2 x context days."""
    groups = np.asarray([t.removeprefix("test ") for t in titles])
    if data.series is None:
        return Resampling.one_block(groups, (len(groups), context))
    segment = np.arange(len(groups)) // len(names_of(data.test))
    return Resampling(groups, segment[:, None], 2 * context)


def _forecast_figures(data: SequenceData, one_step_part: tuple, multi_part: tuple, out_dir: Path) -> list[str]:
    """The forecast figures: one_step_part = (window, score, ShownSeries), multi_part = (context, score,
    PlottedMultiStep or None)."""
    from lstm_ae.figures import runs as plots

    (window, one, shown), (context, multi, plotted) = one_step_part, multi_part
    units = data.units
    ylabel = data.value_label if units else "value"
    plots.plot_one_step(shown, window, one, out_dir / "forecast_one_step.png", ylabel, units)
    if plotted is None:
        return ["forecast_one_step.png"]
    idx = list(range(min(3, len(plotted.seqs))))
    arrays = {key: value[idx] for key, value in plotted.forecasts.arrays().items() if key != "naive"}
    if plotted.ar is not None:
        arrays["ar"] = plotted.ar[idx]
    plots.plot_multi_step(
        None if plotted.dates is None else [plotted.dates[i] for i in idx],
        [plotted.titles[i] for i in idx],
        plotted.seqs[idx],
        arrays,
        context,
        multi,
        out_dir / "forecast_multi_step.png",
        ylabel,
        units,
    )
    plots.plot_error_vs_horizon(plotted.rows, multi, out_dir / "error_vs_horizon.png", units)
    return ["forecast_one_step.png", "forecast_multi_step.png", "error_vs_horizon.png"]


def _log_scores(one: dict, multi: dict, window: int, units) -> None:
    def vs(score):
        return ", ".join(
            f"{key} {v['ratio']:.4f} [{v['ci_low']:.4f}, {v['ci_high']:.4f}] ({v['verdict']})"
            for key, v in score["model_vs"].items()
        )

    unit_text = ""
    if units:
        u = units.suffix
        unit_text = f"; in {units.symbol}: ratio {one[f'ratio_{u}']:.3f}"
    log.info(
        "one-step forecasts (%d, window %d): model MSE %.4g vs persistence %.4g (normalized)%s; model / reference "
        "(95%% interval, %d resamples of %s): %s",
        one["n"],
        window,
        one["model_mse"],
        one["persistence_mse"],
        unit_text,
        N_RESAMPLES,
        one["bootstrap"]["resampled"],
        vs(one),
    )
    if "ratio" in multi:
        log.info(
            "multi-step forecasts (%d sequences, context %d, horizon %d): model / reference: %s; "
            "one-step on the same days: ratio %.3f (normalized)",
            multi["n_sequences"],
            multi["context"],
            multi["horizon"],
            vs(multi),
            multi["one_step_same_days"]["ratio"],
        )
