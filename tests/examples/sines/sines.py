"""A dataset added from outside the package, in its own module: noisy sine voltages of two
frequencies. It uses only the public data contract (lstm_ae.data.base) and declares through it:

- units: millivolts, scaled by a fixed range (x = v / 1000), so runs report errors in mV
  (metric names end in _mV) and figures show mV;
- series: the items are 40-step windows of longer series (one per signal), split by series, so
  forecasts run over whole test series and the first two series are drawn whole in sines_series.png;
- class labels: the frequency of each series.
"""

import math

import numpy as np
import torch

from lstm_ae.data.base import FixedScaler, SequenceData, Series, Split, Units

SCALER = FixedScaler(lo=0.0, span=1000.0)  # mV -> [0, 1]


def series_values(n_series: int, series_len: int, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    """(S, D) voltages in mV, 500 ± 400 mV plus noise, clipped to [0, 1000]; labels (S,): 0 slow, 1 fast."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n_series,), generator=g)
    freq = torch.where(labels == 0, 0.1, 0.3)[:, None]
    phase = torch.rand(n_series, 1, generator=g) * 2 * math.pi
    t = torch.arange(series_len, dtype=torch.float64)
    mv = 500 + 400 * torch.sin(freq * t + phase) + 50 * torch.randn(n_series, series_len, generator=g)
    return mv.clamp(0, 1000).double().numpy(), labels


def load(name: str = "sines", n_series: int = 30, series_len: int = 400, length: int = 40, seed: int = 0):
    values, labels = series_values(n_series, series_len, seed)
    names = np.array([f"sine{i:02d}" for i in range(n_series)], dtype=object)
    starts = np.arange(0, series_len - length + 1, length)
    a, b = int(0.6 * n_series), int(0.8 * n_series)

    def split(rows: np.ndarray) -> Split:
        windows = values[rows][:, starts[:, None] + np.arange(length)]  # (S', W, L)
        windows = windows.transpose(1, 0, 2).reshape(-1, length)  # window-major: first items are different series
        lo, span = SCALER.fit(windows)
        x = torch.from_numpy(SCALER.apply(windows, lo, span).astype(np.float32)).unsqueeze(-1)
        return Split(
            x,
            labels[rows].repeat(len(starts)),
            names=np.tile(names[rows], len(starts)),
            start=np.repeat(starts, len(rows)),
            lo=lo,
            span=span,
        )

    train, val, test = (split(np.arange(i, j)) for i, j in ((0, a), (a, b), (b, n_series)))
    return SequenceData(
        name,
        train,
        val,
        test,
        n_classes=2,
        value_label="voltage (mV)",
        units=Units(symbol="mV", suffix="mV", scaler=SCALER),
        series=Series(values, list(names), shown=("sine00", "sine01"), figure="sines_series.png", title="sines"),
        stats={"n_series": n_series, "windows_per_series": len(starts)},
    )
