"""Figures drawn for the study report from the numbers a run or sweep folder already holds (metrics.csv,
summary.csv, error_vs_horizon.csv): sized for a printed page (COLUMN inches wide, or HALF of it) with
every font at least PRINT_FONT points when shown at that width, legends outside the data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

from lstm_ae.artifacts import save_figure
from lstm_ae.figures.style import STYLE, epoch_axis, legend_below, subplots, with_style

COLUMN = 7.2  # inches: an A4 or Letter page's text width at the report's margins
HALF = 3.5  # two figures side by side
PRINT_FONT = 9  # points, every text of these figures
PRINT_STYLE = {
    **STYLE,
    "font.size": PRINT_FONT,
    "axes.titlesize": PRINT_FONT + 0.5,
    "axes.labelsize": PRINT_FONT,
    "legend.fontsize": PRINT_FONT,
    "xtick.labelsize": PRINT_FONT,
    "ytick.labelsize": PRINT_FONT,
    "lines.linewidth": 1.4,
    "lines.markersize": 3.5,
}
printed = with_style(PRINT_STYLE)  # every figure of the report, at print size


@dataclass
class Line:
    label: str
    x: Sequence
    y: Sequence
    style: dict = field(default_factory=dict)


def _legend_below(ax, n: int, ncol: int = 2) -> None:
    """The legend under the axes, where it covers no data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=min(ncol, max(n, 1)), frameon=False)


def _log_ticks(ax, values: Sequence[float], axis: str = "x") -> None:
    """A log axis ticked at the given values only, labelled as plain numbers (no minor labels that collide)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(list(values)))
    target.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())


@printed
def curves(lines: list[Line], ylabel: str, path: Path, title: str, logy: bool = False, width: float = 3.3) -> None:
    """Curves against epoch (one axes), the legend below."""
    fig, ax = subplots(figsize=(width, 2.5))
    for line in lines:
        ax.plot(line.x, line.y, label=line.label, **{"marker": "o", **line.style})
    epoch_axis(ax)
    ax.set_ylabel(ylabel)
    values = np.array([v for line in lines for v in line.y], dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if logy and len(values) and values.max() / values.min() > 10:  # within a decade a log axis only adds clutter
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title(title)
    _legend_below(ax, len(lines))
    fig.tight_layout()
    save_figure(fig, path)


@printed
def grid_objective(df: pd.DataFrame, swept: list[str], path: Path, ylabel: str) -> None:
    """The validation objective of every trial against each swept parameter, the best per value joined.
    A grid's values sit equally spaced, labelled by value (0, 0.02, 0.1 never collide), and the legend
    sits under the panels."""
    n = max(1, len(swept))
    fig, axes = subplots(1, n, figsize=(COLUMN, 2.5), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], swept):
        values = pd.to_numeric(df[name], errors="coerce")
        distinct = sorted(values.dropna().unique())
        position = values.map({v: i for i, v in enumerate(distinct)})
        ax.scatter(position, df["objective"], s=14, color="C0", label="trial")
        best = df.assign(_p=position).groupby("_p")["objective"].min()
        ax.plot(best.index, best.values, "-", color="C1", label="best per value")
        ax.set_xticks(range(len(distinct)), [f"{v:g}" for v in distinct])
        ax.set_xlim(-0.5, len(distinct) - 0.5)
        ax.set_xlabel(name)
    axes[0, 0].set_ylabel(ylabel)
    legend_below(fig, axes[0, 0], ncol=2)
    save_figure(fig, path)


@printed
def capacity(
    hidden: Sequence[int], model: Sequence[float], pca: Sequence[float], mean: float | None, path: Path
) -> None:
    """Test reconstruction MSE against the context size, with PCA of as many components and the mean item."""
    fig, ax = subplots(figsize=(HALF, 2.6))
    ax.plot(hidden, model, "o-", label="LSTM autoencoder")
    ax.plot(hidden, pca, "s--", color="0.35", label="PCA, k = hidden")
    if mean is not None:
        ax.axhline(mean, color="C3", lw=1, ls=":", label="mean item")
    ax.set_xscale("log")
    _log_ticks(ax, hidden)
    positive = np.array([v for v in (*model, *pca) if v is not None and v > 0])
    if len(positive) and positive.max() / positive.min() > 20:
        ax.set_yscale("log")
    ax.set_xlabel("context size (model.hidden)")
    ax.set_ylabel("test MSE")
    _legend_below(ax, 3, ncol=2)
    fig.tight_layout()
    save_figure(fig, path)


@printed
def horizon(df: pd.DataFrame, names: dict[str, str], path: Path) -> None:
    """Normalized MSE against the horizon step: model multi-step, its references iterated, the one-step errors."""
    fig, ax = subplots(figsize=(COLUMN, 2.6))
    h = df["horizon"]
    styles = [
        ("multi_model", "model multi-step", "C3", "-"),
        ("multi_persistence", "persistence (last value)", "C2", ":"),
    ]
    styles += [(f"multi_{k}", f"{v}, iterated", c, "--") for (k, v), c in zip(names.items(), ("C5", "C4", "C6"))]
    styles += [
        ("one_step_model", "model one-step", "C1", "-."),
        ("one_step_persistence", "persistence one-step", "C0", "-."),
    ]
    drawn = 0
    for key, label, color, ls in styles:
        if f"{key}_mse" in df:
            ax.plot(h, df[f"{key}_mse"], color=color, ls=ls, marker="o", ms=2, label=label)
            drawn += 1
    ax.set_yscale("log")
    ax.set_xlabel("horizon step (days after the last known value)")
    ax.set_ylabel("MSE (normalized)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
