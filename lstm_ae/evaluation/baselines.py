"""Reference forecasts and their scores: persistence, drift, linear AR, and a stock-and-day bootstrap.

Pure array math on windows: a window (N, L) holds the L values known before the value to
forecast. Nothing here knows a dataset, a model or a figure; lstm_ae.evaluation.forecast feeds it.

- persistence: x̂ = x_L (the last known value).
- drift over k days: x̂ = x_L + (x_L - x_{L-k}) / k (the mean daily change of the last k days).
- linear AR, fitted by least squares (with an intercept) on windows and their next values:
  on levels, x̂ = c + Σ_{i<p} a_i x_{L-i}; on differences, x̂ = x_L + c + Σ_{i<p} a_i Δx_{L-i}
  with Δx_j = x_j - x_{j-1}.
- Persistence, Drift and LinearAR share fit(windows, targets) / predict(windows), a key and a name;
  iterate() turns any of them into multi-step forecasts by feeding its forecasts back.
- bootstrap_ratio: the ratio of two forecasters' mean squared errors and its percentile interval,
  resampling groups (stocks) and blocks of days jointly, so the errors of one stock stay together and
  so do those of one stretch of days that every stock shares; Verdict says what the interval allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

AR_ON = ("levels", "differences")


def _windows(windows) -> np.ndarray:
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] < 1:
        raise ValueError(f"windows must be (N, L) with L >= 1, got shape {w.shape}")
    return w


def persistence(windows) -> np.ndarray:
    """x̂ = the last known value of each window."""
    return _windows(windows)[:, -1].copy()


def drift(windows, k: int) -> np.ndarray:
    """x̂ = x_L + (x_L - x_{L-k}) / k: the last value plus the mean daily change of the last k days."""
    w = _windows(windows)
    if not 1 <= k < w.shape[1]:
        raise ValueError(f"drift over k={k} days needs windows longer than k (L={w.shape[1]})")
    return w[:, -1] + (w[:, -1] - w[:, -1 - k]) / k


@dataclass
class Persistence:
    """x̂ = x_L, as a forecaster (fit does nothing)."""

    key: str = "persistence"
    name: str = "persistence"

    def fit(self, windows, targets) -> Persistence:
        return self

    def predict(self, windows) -> np.ndarray:
        return persistence(windows)


@dataclass
class Drift:
    """x̂ = x_L + (x_L - x_{L-k}) / k, as a forecaster (fit does nothing)."""

    k: int = 48

    @property
    def key(self) -> str:
        return f"drift{self.k}"

    @property
    def name(self) -> str:
        return f"drift over {self.k} days"

    def fit(self, windows, targets) -> Drift:
        return self

    def predict(self, windows) -> np.ndarray:
        return drift(windows, self.k)


@dataclass
class LinearAR:
    """AR(p) with an intercept, on levels or on daily differences, fitted by least squares."""

    order: int = 1
    on: str = "differences"
    coef: np.ndarray | None = field(default=None, repr=False)  # (p + 1,): intercept, then a_1..a_p

    def __post_init__(self) -> None:
        if self.on not in AR_ON:
            raise ValueError(f"AR on must be one of {', '.join(AR_ON)}; got {self.on!r}")
        if not isinstance(self.order, int) or self.order < 1:
            raise ValueError(f"AR order must be an integer >= 1, got {self.order}")

    @property
    def name(self) -> str:
        return f"AR({self.order}) on {self.on}"

    @property
    def key(self) -> str:
        """A short identifier for tables and JSON: ar1_diff, ar2_level."""
        return f"ar{self.order}_{'diff' if self.on == 'differences' else 'level'}"

    def _design(self, w: np.ndarray) -> np.ndarray:
        p = self.order
        need = p + 1 if self.on == "differences" else p
        if w.shape[1] < need:
            raise ValueError(f"{self.name} needs windows of at least {need} values, got {w.shape[1]}")
        if self.on == "levels":
            lags = w[:, ::-1][:, :p]  # x_L, x_{L-1}, ...
        else:
            lags = np.diff(w, axis=1)[:, ::-1][:, :p]  # Δx_L, Δx_{L-1}, ...
        return np.column_stack([np.ones(len(w)), lags])

    def fit(self, windows, targets) -> LinearAR:
        """Least squares on windows (N, L) and the values after them (N,)."""
        w = _windows(windows)
        y = np.asarray(targets, dtype=np.float64).reshape(-1)
        if len(y) != len(w):
            raise ValueError(f"{len(w)} windows but {len(y)} targets")
        if len(w) <= self.order + 1:
            raise ValueError(f"{self.name} needs more than {self.order + 1} windows to fit, got {len(w)}")
        if self.on == "differences":
            y = y - w[:, -1]
        self.coef = np.linalg.lstsq(self._design(w), y, rcond=None)[0]
        return self

    def predict(self, windows) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError(f"{self.name} is not fitted")
        w = _windows(windows)
        out = self._design(w) @ self.coef
        return out + w[:, -1] if self.on == "differences" else out


class Verdict(StrEnum):
    """What an interval of an MSE ratio (model / reference) allows one to say."""

    BEATS = "beats"  # the whole interval lies below 1
    WORSE = "worse"  # the whole interval lies above 1
    UNDECIDED = "not distinguishable"  # the interval holds 1: the data do not decide

    @property
    def flag(self) -> bool | None:
        """As model_beats_* records it: True, False, or None when the interval holds 1."""
        return None if self is Verdict.UNDECIDED else self is Verdict.BEATS

    @classmethod
    def of(cls, ci_low: float, ci_high: float) -> Verdict:
        if ci_high < 1.0:
            return cls.BEATS
        return cls.WORSE if ci_low > 1.0 else cls.UNDECIDED


@dataclass(frozen=True)
class RatioInterval:
    """An MSE ratio with its percentile bootstrap interval (bootstrap_ratio)."""

    ratio: float
    ci_low: float
    ci_high: float
    level: float
    n_resamples: int
    n_groups: int
    n_blocks: int
    seed: int

    @property
    def verdict(self) -> Verdict:
        return Verdict.of(self.ci_low, self.ci_high)

    def as_dict(self) -> dict:
        return {"ratio": self.ratio, "ci_low": self.ci_low, "ci_high": self.ci_high, "verdict": str(self.verdict)}


def _counts(rng: np.random.Generator, n: int, n_resamples: int) -> np.ndarray:
    """(n_resamples, n): how often each of n units is drawn in each resample of n draws with replacement."""
    draws = rng.integers(0, n, size=(n_resamples, n)) + n * np.arange(n_resamples)[:, None]
    return np.bincount(draws.reshape(-1), minlength=n_resamples * n).reshape(n_resamples, n).astype(np.float64)


def bootstrap_ratio(
    model_sq, base_sq, groups=None, blocks=None, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> RatioInterval:
    """MSE(model) / MSE(base) over all forecasts, and a percentile interval by a two-way bootstrap.

    model_sq, base_sq: squared errors of the same forecasts, (S, n) with one row per group, or flat
    with `groups` labelling each error. `blocks` labels each error's block of days (None: one block).
    Each resample draws as many groups as there are and, independently, as many blocks as there are,
    both with replacement, and takes the ratio of the errors summed over every drawn (group, block)
    cell. Groups (stocks) and blocks (runs of consecutive days) are crossed: the stocks share the
    market's days, so resampling stocks alone treats one day's common move as many independent
    errors; resampling both keeps a stock's errors together and a day's errors together (Owen's
    pigeonhole bootstrap, conservative for crossed effects). With one block it is the group bootstrap."""
    m = np.asarray(model_sq, dtype=np.float64)
    b = np.asarray(base_sq, dtype=np.float64)
    if m.shape != b.shape:
        raise ValueError(f"squared errors of different shapes: {m.shape} vs {b.shape}")
    if groups is None:
        if m.ndim != 2:
            raise ValueError("flat squared errors need groups")
        groups = np.repeat(np.arange(m.shape[0]), m.shape[1])
    blocks = np.zeros(m.size, dtype=np.int64) if blocks is None else np.asarray(blocks).reshape(-1)
    _, g = np.unique(np.asarray(groups).reshape(-1), return_inverse=True)
    _, k = np.unique(blocks, return_inverse=True)
    if len(g) != m.size or len(k) != m.size:
        raise ValueError(f"{m.size} errors but {len(g)} group and {len(k)} block labels")
    n_g, n_k = int(g.max()) + 1, int(k.max()) + 1
    cell = g * n_k + k
    m_cell = np.bincount(cell, weights=m.reshape(-1), minlength=n_g * n_k).reshape(n_g, n_k)
    b_cell = np.bincount(cell, weights=b.reshape(-1), minlength=n_g * n_k).reshape(n_g, n_k)
    total = b_cell.sum()
    ratio = float(m_cell.sum() / total) if total > 0 else float("inf")
    rng = np.random.default_rng(seed)
    c_g, c_k = _counts(rng, n_g, n_resamples), _counts(rng, n_k, n_resamples)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = ((c_g @ m_cell) * c_k).sum(axis=1) / ((c_g @ b_cell) * c_k).sum(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    return RatioInterval(ratio, float(lo), float(hi), level, n_resamples, n_g, n_k, seed)


def day_blocks(days, length: int) -> np.ndarray:
    """Block of each day position: runs of `length` consecutive days (0..length-1, length..2 length-1, ...)."""
    if length < 1:
        raise ValueError(f"blocks of days need length >= 1, got {length}")
    return np.asarray(days, dtype=np.int64) // length


def next_value_windows(series, window: int, every: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every `every`-th window of `window` values of each series (S, D) and the value after it.

    Returns windows (S, n, window), targets (S, n) and the targets' positions (n,)."""
    s = np.asarray(series, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] <= window:
        raise ValueError(f"series of shape {s.shape} are too short for windows of {window} values")
    days = np.arange(window, s.shape[1], every)
    wins = np.lib.stride_tricks.sliding_window_view(s, window, axis=1)[:, days - window]
    return wins, s[:, days], days


def iterate(predict, known, horizon: int) -> np.ndarray:
    """Multi-step forecasts: predict (N, L) -> (N,) applied to the last L values, each forecast fed
    back as the next known value, `horizon` times. known (N, L) -> forecasts (N, horizon)."""
    buf = np.concatenate([_windows(known), np.full((len(known), horizon), np.nan)], axis=1)
    width = buf.shape[1] - horizon
    for h in range(horizon):
        buf[:, width + h] = predict(buf[:, h : h + width])
    return buf[:, width:]
