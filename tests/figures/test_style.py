"""Figure primitives (lstm_ae.figures.style): lines that stop at calendar gaps, legends that cover no data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_ae.figures import style


def test_a_line_stops_at_each_calendar_gap():
    dates = pd.to_datetime(["2014-12-30", "2014-12-31", "2017-01-03", "2017-01-04", "2017-01-05"])
    xs, ys = style.broken_at(dates, [1.0, 2.0, 3.0, 4.0, 5.0], starts=(2,))
    assert len(xs) == 6 and np.isnan(ys[2]) and ys[[0, 1, 3, 4, 5]].tolist() == [1, 2, 3, 4, 5]
    fig, ax = style.subplots(figsize=(6, 3))
    (line,) = ax.plot(xs, ys)
    # matplotlib draws no segment through a NaN: the line is two pieces, the gap a break, not a bridge
    path = line.get_path().cleaned(remove_nans=True)
    assert sum(code == path.MOVETO for _, code in path.iter_segments()) == 2
    same = style.broken_at(dates, np.arange(5.0), starts=(0, 5))  # a break at either end changes nothing
    assert len(same[0]) == 5 and not np.isnan(same[1]).any()


def test_the_legend_sits_under_the_panels_and_covers_no_data(tmp_path):
    fig, axes = style.subplots(1, 2, figsize=(9, 3.5), squeeze=False)
    for ax in axes[0]:
        for k in range(6):
            ax.plot(np.arange(50), np.linspace(0, 1, 50) ** (k + 1), label=f"line {k}")
    fig.suptitle("a title")
    style.legend_below(fig, axes[0, 0], ncol=3)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.savefig(tmp_path / "f.png")
    legend = fig.legends[0].get_window_extent(renderer)
    assert len(fig.legends[0].get_texts()) == 6
    for ax in axes[0]:
        panel = ax.get_window_extent(renderer)
        assert legend.y1 <= panel.y0  # wholly below every panel
