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

FONT_KEY = "lstm_ae min font pt"  # PNG text chunk: the smallest font of the figure, in points at its own size
STYLE = {  # the house style, applied inside each figure function only (styled), never globally
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "legend.fontsize": 12,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
P = ParamSpec("P")
R = TypeVar("R")


def with_style(style: dict) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator running a figure function inside `style`: matplotlib's global settings stay the user's."""

    def decorate(draw: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(draw)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with matplotlib.rc_context(style):
                return draw(*args, **kwargs)

        return wrapper

    return decorate


styled = with_style(STYLE)  # the house style


def wrapped(text: str, width_in: float, fontsize: float = 13) -> str:
    """Each line of text broken to fit width_in inches at fontsize points (a title never runs off the figure)."""
    import textwrap

    chars = max(20, int(width_in * 72 / (0.58 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in text.splitlines())


def smallest_font(fig: Figure) -> float | None:
    """The smallest font size (points) of the figure's visible, non-empty text, tick labels included."""
    from matplotlib.text import Text

    texts = list(fig.findobj(Text))
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            texts += axis.get_majorticklabels() + axis.get_minorticklabels()
    sizes = [t.get_fontsize() for t in texts if t.get_visible() and t.get_text().strip()]
    return min(sizes) if sizes else None


class StampedFigure(Figure):
    """A figure whose PNG names its smallest font (FONT_KEY), so that a report can show it at a width
    where that font stays readable (lstm_ae.figures.style.png_info reads it back)."""

    def savefig(self, fname, **kwargs):
        png = kwargs.get("format", "png" if not isinstance(fname, (str, Path)) else Path(fname).suffix[1:]) == "png"
        size = smallest_font(self) if png else None
        if size is not None:
            kwargs["metadata"] = {**(kwargs.get("metadata") or {}), FONT_KEY: f"{size:.2f}"}
        return super().savefig(fname, **kwargs)


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs):
    """A figure and its axes without pyplot: no backend is chosen or changed, and nothing is left open
    (in a notebook, our figures never show up in the user's pyplot state)."""
    fig = StampedFigure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def png_info(path: Path) -> tuple[float, float, float | None]:
    """(width in inches, height in inches, smallest font in points or None) of a PNG written by
    save_figure: the size from its pixels and pHYs resolution, the font from its FONT_KEY text chunk."""
    data = Path(path).read_bytes()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    dpi, font, pos = 72.0, None, 8
    while pos + 8 <= len(data):
        length, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"pHYs" and body[8:9] == b"\x01":  # pixels per metre
            dpi = int.from_bytes(body[:4], "big") * 0.0254
        elif kind == b"tEXt" and body.split(b"\0", 1)[0] == FONT_KEY.encode():
            font = float(body.split(b"\0", 1)[1])
        elif kind == b"IDAT":
            break
        pos += 12 + length
    return width / dpi, height / dpi, font


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
def legend_below(fig: Figure, ax, ncol: int = 3) -> None:
    """The figure's one legend (the lines of `ax`) under its panels, where it covers no data; lays the
    figure out (constrained layout: call it instead of tight_layout)."""
    fig.set_layout_engine("constrained")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)


def broken_at(xs, ys, starts=()) -> tuple[np.ndarray, np.ndarray]:
    """xs and ys with a gap (NaN) before each index in `starts`, where a new gap-free stretch begins:
    a line drawn through them stops at a calendar gap instead of bridging it."""
    xs, ys = np.asarray(xs), np.asarray(ys, dtype=np.float64)
    starts = np.asarray([p for p in starts if 0 < p < len(ys)], dtype=np.int64)
    if len(starts) == 0:
        return xs, ys
    return np.insert(xs, starts, xs[starts]), np.insert(ys, starts, np.nan)


def plot_series(dates, series: dict[str, np.ndarray], path: Path, ylabel: str, title: str, breaks=()) -> None:
    """One panel per series: its whole length, dates on the x-axis (time steps 1..D without dates),
    the line broken where a new stretch starts (breaks: positions after a calendar gap)."""
    n = len(series)
    fig, axes = subplots(n, 1, figsize=(9, 2.0 * n + 0.4), squeeze=False)
    for ax, (name, values) in zip(axes[:, 0], series.items()):
        xs = dates if dates is not None else np.arange(1, len(values) + 1)
        ax.plot(*broken_at(xs, values, breaks), lw=1.3, label=name)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("date" if dates is not None else "time step")
        ax.set_title(name)
        ax.legend(loc="upper left")
        date_axis(ax, dates)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
