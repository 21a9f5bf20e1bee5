"""Figure primitives that know nothing of runs or datasets: the house style (readable at 100 %:
large fonts, grids), per-epoch and date axes, and panels of whole series. Any module may draw
with them (dataset modules included); lstm_ae.figures.runs builds the figures of a run on them."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lstm_ae.artifacts import save_figure

STYLE = {  # the house style, applied inside each figure function only (styled), never globally
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "legend.fontsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
P = ParamSpec("P")
R = TypeVar("R")


def styled(draw: Callable[P, R]) -> Callable[P, R]:
    """Run a figure function inside the house style: matplotlib's global settings stay the user's."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs):
    """A figure and its axes without pyplot: no backend is chosen or changed, and nothing is left open
    (in a notebook, our figures never show up in the user's pyplot state)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def epoch_axis(ax) -> None:
    """x-axis of a per-epoch curve: labelled, whole epochs only (matplotlib would tick 0.5 steps)."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    lo, hi = ax.get_xlim()
    first, last = math.ceil(lo), math.floor(hi)
    if last - first < 2:  # one or two epochs: tick each (matplotlib would tick 0.95 ... 1.05, or only 2)
        if first >= last:
            ax.set_xlim(first - 1, first + 1)
        ax.set_xticks(list(range(first, last + 1)))


def date_axis(ax, dates) -> None:
    """Concise date ticks when the x-axis holds dates (nothing for time steps)."""
    if dates is not None:
        import matplotlib.dates as mdates

        loc = mdates.AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


@styled
def plot_series(dates, series: dict[str, np.ndarray], path: Path, ylabel: str, title: str) -> None:
    """One panel per series: its whole length, dates on the x-axis (time steps 1..D without dates)."""
    n = len(series)
    fig, axes = subplots(n, 1, figsize=(11, 3.2 * n), squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], series.items()):
        xs = dates if dates is not None else np.arange(1, len(values) + 1)
        ax.plot(xs, values, lw=1.3, label=name)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("date" if dates is not None else "time step")
        ax.set_title(name)
        ax.legend(loc="upper left")
        date_axis(ax, dates)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
