"""Figures of a run: readable at 100 % (large fonts, labelled axes, legends)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lstm_ae.artifacts import save_figure
from lstm_ae.data.base import SequenceData, Units
from lstm_ae.figures.style import (
    broken_at,
    date_axis,
    epoch_axis,
    legend_below,
    plot_series,
    styled,
    subplots,
    wrapped,
)


def _series(data: SequenceData, split: str, index: int, values: np.ndarray):
    """x-axis values, y values (real units when the data declare them), x label: the dates of the
    item's days when it is a window of a dated series, else time steps."""
    part = data.split(split)
    ys = values[:, 0] if data.units is None else data.units.to_units(part, values, index)[:, 0]
    n = values.shape[0]
    if data.series is not None and data.series.dates is not None:
        start = int(part.start[index])
        return data.series.dates[start : start + n], ys, "date"
    return np.arange(1, n + 1), ys, "time step t"


@styled
def plot_examples(data: SequenceData, path: Path, n: int = 3) -> None:
    """A few training examples as the model sees them."""
    x = data.train.x[:n].numpy()
    if data.kind == "image":
        fig, axes = subplots(1, n, figsize=(2.6 * n, 3))
        for i, ax in enumerate(np.atleast_1d(axes)):
            ax.imshow(x[i].reshape(data.image_shape), cmap="gray", vmin=0, vmax=1)
            label = f" (label {int(data.train.y[i])})" if data.train.y is not None else ""
            ax.set_title(f"example {i + 1}{label}")
            ax.axis("off")
    else:
        fig, axes = subplots(n, 1, figsize=(9, 1.8 * n + 0.5), squeeze=False)
        for i, ax in enumerate(axes[:, 0]):
            xs, ys, xlabel = _series(data, "train", i, x[i])
            ax.plot(xs, ys, marker=".", lw=1.2, label=f"{data.name} example {i + 1}")
            ax.set_ylabel(data.value_label)
            ax.set_xlabel(xlabel)
            ax.legend(loc="upper right")
    fig.suptitle(f"{data.name}: training examples")
    fig.tight_layout()
    save_figure(fig, path)


@styled
def plot_reconstructions(
    data: SequenceData,
    split: str,
    idx: list[int],
    originals: np.ndarray,
    recons: np.ndarray,
    path: Path,
    title: str,
    reference: tuple[np.ndarray, str] | None = None,
) -> None:
    """Originals beside reconstructions (images: one row each) or overlaid (signals); reference: another
    reconstruction and its name (e.g. PCA of the same size), a third row or a thin line."""
    n = len(idx)
    if data.kind == "image":
        rows = [(originals, "original"), (recons, "reconstruction")] + ([reference] if reference else [])
        fig, axes = subplots(len(rows), n, figsize=(1.1 * n + 1.0, 1.15 * len(rows) + 0.9), squeeze=False)
        for j in range(n):
            for row, (arr, name) in enumerate((values[j], name) for values, name in rows):
                ax = axes[row, j]
                ax.imshow(arr.reshape(data.image_shape), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                if j == 0:
                    ax.set_ylabel(name)
    else:
        fig, axes = subplots(n, 1, figsize=(9, 1.75 * n + 0.6), squeeze=False)
        for j, ax in enumerate(axes[:, 0]):
            xs, ys, xlabel = _series(data, split, idx[j], originals[j])
            _, yr, _ = _series(data, split, idx[j], recons[j])
            ax.plot(xs, ys, lw=1.6, label="original")
            ax.plot(xs, yr, lw=1.6, ls="--", label="reconstruction")
            if reference is not None:
                _, yp, _ = _series(data, split, idx[j], reference[0][j])
                ax.plot(xs, yp, lw=0.9, color="0.45", label=reference[1])
            ax.set_xlabel(xlabel)
            ax.set_ylabel(data.value_label)
            ax.set_title(data.item_name(split, idx[j]), loc="left")  # the legend sits at the right
            if j == 0:  # one legend above the panels, where it covers no data
                ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.02), ncol=3, frameon=False)
    fig.suptitle(wrapped(title, fig.get_figwidth()))
    fig.tight_layout()
    save_figure(fig, path)


@styled
def plot_curves(history: list[dict], metric: str, ylabel: str, path: Path, title: str, logy: bool = False) -> None:
    """Train and validation curves of one metric against epoch."""
    fig, ax = subplots(figsize=(8, 4.8))
    epochs = [row["epoch"] for row in history]
    for split, style in (("train", "-"), ("val", "--")):
        key = f"{split}_{metric}"
        if history and key in history[0]:
            ax.plot(
                epochs,
                [row[key] for row in history],
                style,
                marker="o",
                ms=4,
                label="validation" if split == "val" else "train",
            )
    epoch_axis(ax)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


@styled
def plot_shown_series(data: SequenceData, out_dir: Path) -> list[str]:
    """The whole series the data name in ``series.shown`` (those present), in one figure; its file name."""
    series = data.series
    wanted = [] if series is None else [name for name in series.shown if name in series.names]
    if not wanted:
        return []
    values = dict(zip(wanted, series.values[series.rows(wanted)]))
    title = f"{series.title} of {' and '.join(wanted)}"
    plot_series(series.dates, values, Path(out_dir) / series.figure, data.value_label, title, series.breaks)
    return [series.figure]


# -- forecasting figures (any task=predict run) ---------------------------------------------------
def _fmt_score(score: dict, units: Units | None) -> str:
    """'model MSE a vs persistence b (ratio r)' in normalized units, and in real units when known."""
    text = (
        f"MSE model {score['model_mse']:.3g} vs persistence {score['persistence_mse']:.3g} (ratio {score['ratio']:.2f})"
    )
    if units and f"model_mse_{units.suffix}" in score:
        u = units.suffix
        text += (
            f"; RMSE {units.symbol}: model {score[f'model_rmse_{u}']:.3g} vs persistence "
            f"{score[f'persistence_rmse_{u}']:.3g} (MSE ratio {score[f'ratio_{u}']:.2f})"
        )
    return text


def _fmt_references(score: dict, width: int = 150) -> str:
    """Heading lines: the model's MSE ratio to persistence and to each reference, and each
    reference's ratio to persistence, with the bootstrap's 95 % intervals
    (lstm_ae.evaluation.forecast.score_references)."""
    if "model_vs" not in score:
        return ""
    import textwrap

    def ci(v):
        return f"{v['ratio']:.4f} [{v['ci_low']:.4f}, {v['ci_high']:.4f}]"

    refs, boot = score["references"], score["bootstrap"]
    model = "; ".join(f"{refs[k]['name'] if k in refs else k} {ci(v)}" for k, v in score["model_vs"].items())
    base = "; ".join(f"{r['name']} {ci(r['vs_persistence'])}" for r in refs.values())
    text = (
        f"MSE ratios (normalized), 95 % intervals from {boot['n_resamples']} resamples of "
        f"{boot.get('resampled', 'the test series')}. Model / reference: {model}. References / persistence: {base}"
    )
    return "\n" + "\n".join(textwrap.wrap(text, width))


@styled
def plot_one_step(
    shown,
    window: int,
    score: dict,
    path: Path,
    ylabel: str,
    units: Units | None,
    zoom: int = 60,
) -> None:
    """Honest one-step forecasts of whole test series: full period (left) and the last `zoom`
    days (right) with persistence and the AR reference; errors in the titles, every reference's
    ratio with its interval in the heading. shown: lstm_ae.evaluation.forecast.ShownSeries."""
    names, dates, f = shown.names, shown.dates, shown.forecasts
    n = len(names)
    ar_name = score.get("references", {}).get("ar1_diff", {}).get("name", "AR")
    fig, axes = subplots(n, 2, figsize=(9, 2.5 * n + 1.5), squeeze=False, gridspec_kw={"width_ratios": [2, 1]})
    for i, name in enumerate(names):
        target, forecast, pers = f.target[i], f.forecast[i], f.persistence[i]
        xs = dates if dates is not None else f.day + 1
        mse_m = float(np.mean((forecast - target) ** 2))
        mse_p = float(np.mean((pers - target) ** 2))
        mse_a = float(np.mean((shown.ar[i] - target) ** 2))
        for ax, first in ((axes[i, 0], 0), (axes[i, 1], max(0, len(xs) - zoom))):
            starts = [g - first for g in shown.gaps]  # a calendar gap breaks every line
            lines = [(target, {"lw": 1.4, "color": "k", "label": "actual"}),
                     (forecast, {"lw": 1.2, "color": "C1", "label": "model one-step forecast"})]  # fmt: skip
            if first:
                lines += [(pers, {"lw": 1.0, "ls": ":", "color": "C2", "label": "persistence (x̂ₜ₊₁ = xₜ)"}),
                          (shown.ar[i], {"lw": 1.0, "ls": "--", "color": "C4", "label": ar_name})]  # fmt: skip
            for values, style in lines:
                ax.plot(*broken_at(xs[first:], values[first:], starts), **style)
            ax.set_ylabel(ylabel)
            ax.set_xlabel("date" if dates is not None else "time step")
            date_axis(ax, dates)
        axes[i, 0].set_title(
            wrapped(
                f"test {name}: one-step MSE{' (' + units.symbol + '²)' if units else ''} model {mse_m:.3g}, "
                f"persistence {mse_p:.3g}, {ar_name} {mse_a:.3g}; model/persistence "
                f"{mse_m / mse_p if mse_p > 0 else float('inf'):.3f}",
                5.6,
                12,
            ),
            fontsize=12,
        )
        axes[i, 1].set_title(f"last {zoom} days")
    fig.suptitle(
        wrapped(
            f"One-step forecasts (window of {window} known values), all test series: {_fmt_score(score, units)}",
            8.8,
            12,
        )
        + _fmt_references(score, width=90),
        fontsize=12,
    )
    legend_below(fig, axes[0, 1], ncol=2)
    save_figure(fig, path)


@styled
def plot_multi_step(
    dates: list | None,
    titles: list[str],
    seqs: np.ndarray,
    arrays: dict[str, np.ndarray],
    context: int,
    score: dict,
    path: Path,
    ylabel: str,
    units: Units | None,
) -> None:
    """Test sequences: actual, multi-step (own forecasts fed back), one-step (true history)
    and the flat persistence baseline, after `context` known values."""
    n = len(titles)
    fig, axes = subplots(n, 1, figsize=(9, 2.25 * n + 1.0), squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        xs = dates[i] if dates is not None else np.arange(1, seqs.shape[1] + 1)
        fut = xs[context:]
        ax.plot(xs, seqs[i], color="k", lw=1.5, marker=".", ms=3, label="actual")
        ax.plot(fut, arrays["multi"][i], color="C3", lw=1.5, label="multi-step (own forecasts fed back)")
        ax.plot(fut, arrays["one"][i], color="C1", lw=1.2, ls="--", label="one-step (true history)")
        ax.plot(fut, arrays["flat"][i], color="C2", lw=1.2, ls=":", label="persistence (last known value)")
        if "ar" in arrays:
            ar_name = score.get("references", {}).get("ar1_diff", {}).get("name", "AR")
            ax.plot(fut, arrays["ar"][i], color="C4", lw=1.2, ls="--", label=f"{ar_name}, iterated")
        ax.axvline(xs[context - 1], color="grey", lw=1, ls="-.")
        y = seqs[i, context:]
        mse_m = float(np.mean((arrays["multi"][i] - y) ** 2))
        mse_p = float(np.mean((arrays["flat"][i] - y) ** 2))
        ax.set_title(
            f"{titles[i]}: multi-step MSE{' (' + units.symbol + '²)' if units else ''} model {mse_m:.3g}, "
            f"persistence {mse_p:.3g}, ratio {mse_m / mse_p if mse_p > 0 else float('inf'):.2f}"
        )
        ax.set_ylabel(ylabel)
        ax.set_xlabel("date" if dates is not None else "time step")
        date_axis(ax, dates)
    fig.suptitle(
        wrapped(
            f"Multi-step forecasts after {context} known values, all test sequences: {_fmt_score(score, units)}",
            8.8,
            12,
        )
        + _fmt_references(score, width=90),
        fontsize=12,
    )
    legend_below(fig, axes[0, 0], ncol=2)
    save_figure(fig, path)


@styled
def plot_error_vs_horizon(rows: list[dict], score: dict, path: Path, units: Units | None) -> None:
    """MSE against horizon step: multi-step vs one-step model forecasts and their baselines."""
    panels = [("", "MSE (normalized by the known window's scale)")]
    if units and f"multi_model_mse_{units.suffix}" in rows[0]:
        panels.append((f"_{units.suffix}", f"MSE ({units.symbol}²)"))
    fig, axes = subplots(1, len(panels), figsize=(7.5 * len(panels), 4.8), squeeze=False)
    h = [row["horizon"] for row in rows]
    styles = (
        ("multi_model", "model multi-step", "C3", "-"),
        ("multi_persistence", "persistence, last known value held", "C2", ":"),
        *(
            (f"multi_{key}", f"{ref['name']}, iterated", color, (0, (5, 2)))
            for (key, ref), color in zip(score.get("references", {}).items(), ("C5", "C4", "C6"))
        ),
        ("one_step_model", "model one-step", "C1", "--"),
        ("one_step_persistence", "persistence one-step (previous value)", "C0", "-."),
    )
    for ax, (suffix, ylabel) in zip(axes[0], panels):
        for key, label, color, ls in styles:
            ax.plot(h, [row[f"{key}_mse{suffix}"] for row in rows], color=color, ls=ls, marker="o", ms=3, label=label)
        ax.set_xlabel("horizon step (days after the last known value)")
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
    fig.suptitle(
        wrapped(
            f"Error vs horizon, test sequences. Multi-step over all steps: model/persistence MSE ratio {score['ratio']:.2f}"
            + (
                f" ({score[f'ratio_{units.suffix}']:.2f} in {units.symbol})"
                if units and f"ratio_{units.suffix}" in score
                else ""
            )
            + (
                f"; model / {score['references']['ar1_diff']['name']} (iterated) {score['ratio_ar']:.4f} "
                f"[{score['ratio_ar_ci'][0]:.4f}, {score['ratio_ar_ci'][1]:.4f}] (95 % interval)"
                if "ratio_ar" in score
                else ""
            ),
            fig.get_figwidth(),
            11,
        ),
        fontsize=11,
    )
    legend_below(fig, axes[0, 0], ncol=3)
    save_figure(fig, path)


@styled
def plot_cv_folds(histories: list[list[dict]], best_fold: int, path: Path, title: str) -> None:
    """Validation loss vs epoch of every cross-validation fold; the kept fold drawn bold."""
    fig, ax = subplots(figsize=(8, 4.8))
    for k, history in enumerate(histories):
        if not history:
            continue
        ax.plot(
            [row["epoch"] for row in history],
            [row["val_loss"] for row in history],
            lw=2.4 if k == best_fold else 1.2,
            marker="o",
            ms=3,
            label=f"fold {k + 1}{' (kept)' if k == best_fold else ''}",
        )
    epoch_axis(ax)
    ax.set_ylabel("validation loss (MSE, normalized)")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
