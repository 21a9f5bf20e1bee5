"""The contract between a dataset module and the rest of the package.

A dataset's ``load(...)`` returns a :class:`SequenceData`: three splits held whole as tensors in
[0, 1], plus what it declares about itself, each optional and typed:

- ``units``: the real units of the values (:class:`Units`: a symbol for labels, the suffix of the
  metric names in those units, the scaler that maps real values into [0, 1]). Each split then
  carries its items' scaling (``Split.lo``, ``Split.span``: real = x * span + lo). Runs then report
  errors and forecasts in those units too (``recon_mse_<suffix>``, ``..._mse_<suffix>``), and
  figures show real values.
- ``series``: when items are windows of longer series (:class:`Series`: values in real units,
  names, dates). Each split then names the series of every item (``Split.names``) and where the
  item starts in it (``Split.start``). Forecasts then run over whole test series, figures put
  dates on the x-axis, and the series named in ``Series.shown`` are drawn whole. ``Series.breaks``
  marks gaps (e.g. two periods years apart in one file): no item and no forecast spans one.
- ``stats``: free-form numbers and strings about loading (counts, times, paths), for logs and
  eval.json only; no code reads a key of it.

Items that share a name are one group: they stay on one side of every split, cross-validation
fold and evaluation (``Split.names`` is also enough without a ``series``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from lstm_ae.errors import ConfigError


# -- scaling and units ----------------------------------------------------------------------------
class Scaler:
    """Affine scaling of sequences of real values into the model's range: x = (v - lo) / span, with
    one lo and span per sequence. Subclasses say how lo and span are fitted (``fit``)."""

    def fit(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """values (..., L) in real units -> lo, span (...)."""
        raise NotImplementedError

    @staticmethod
    def apply(values: np.ndarray, lo: np.ndarray, span: np.ndarray) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) - lo[..., None]) / span[..., None]

    @staticmethod
    def invert(scaled: np.ndarray, lo: np.ndarray, span: np.ndarray) -> np.ndarray:
        return np.asarray(scaled, dtype=np.float64) * span[..., None] + lo[..., None]


@dataclass(frozen=True)
class FixedScaler(Scaler):
    """The same lo and span for every sequence (a global scaling; the defaults: values already in [0, 1])."""

    lo: float = 0.0
    span: float = 1.0

    def fit(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shape = np.shape(values)[:-1]
        return np.full(shape, float(self.lo)), np.full(shape, float(self.span))


@dataclass(frozen=True)
class Units:
    """The real units of a dataset's values."""

    symbol: str  # in axis labels, titles and logs, e.g. "$"
    suffix: str  # metric names in these units end in _<suffix>, e.g. recon_mse_dollars
    scaler: Scaler = field(default_factory=FixedScaler)  # how a window of real values is scaled for the model

    def __post_init__(self) -> None:
        if not self.suffix.isidentifier():
            raise ValueError(f"Units.suffix must be a plain name (letters, digits, _), got {self.suffix!r}")

    def to_units(self, split: Split, values: np.ndarray, index: int | None = None) -> np.ndarray:
        """Normalized values of a split's items -> real units (float64): values (N, T', F) of all
        items, or (T', F) of item ``index`` alone."""
        values = np.asarray(values, dtype=np.float64)
        if index is not None:
            return values * split.span[index] + split.lo[index]
        return values * split.span[:, None, None] + split.lo[:, None, None]


@dataclass(frozen=True)
class Series:
    """The whole series that the items are windows of, in real units."""

    values: np.ndarray  # (S, D)
    names: list[str]  # (S,): what Split.names refers to
    dates: Sequence[Any] | None = None  # (D,) x-axis values (e.g. a DatetimeIndex); None: steps 1..D
    shown: tuple[str, ...] = ()  # series drawn whole in `figure` (those present), e.g. two stocks
    figure: str = "series.png"  # file name of that figure
    title: str = "whole series"  # its title; " of <names>" is appended
    breaks: tuple[int, ...] = ()  # steps p where a new stretch starts (p-1, p not consecutive: a gap in
    # the dates); no item and no forecast window spans one

    def segments(self) -> list[tuple[int, int]]:
        """The gap-free stretches [start, stop) of the steps 0..D-1."""
        edges = [0, *self.breaks, self.values.shape[1]]
        return list(zip(edges[:-1], edges[1:]))

    def rows(self, names: Sequence[str]) -> np.ndarray:
        """Row of each name in ``values``."""
        index = {name: i for i, name in enumerate(self.names)}
        return np.array([index[name] for name in names], dtype=np.int64)


# -- splits and the dataset -----------------------------------------------------------------------
@dataclass
class Split:
    """One split held whole in memory; batches are taken by indexing, never per sample.

    The optional per-item arrays (N,) follow the items through every subset and concatenation."""

    x: torch.Tensor  # (N, T, F) float32 in [0, 1]
    y: torch.Tensor | None = None  # (N,) int64 class labels, when the data have them
    meta: dict[str, Any] = field(default_factory=dict)  # free-form, e.g. the toy's dip centres
    names: np.ndarray | None = None  # group of each item: the series it is taken from
    start: np.ndarray | None = None  # where each item starts in its series (SequenceData.series)
    lo: np.ndarray | None = None  # per-item scaling: real = x * span + lo (SequenceData.units)
    span: np.ndarray | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


ITEM_FIELDS = ("names", "start", "lo", "span")


@dataclass
class SequenceData:
    """A dataset ready for training: three splits plus what it declares about its values (see the
    module docstring)."""

    name: str
    train: Split
    val: Split
    test: Split
    kind: str = "signal"  # "signal" (value vs time) or "image" (shown as a picture)
    image_shape: tuple[int, int] | None = None
    n_classes: int = 0
    value_label: str = "value"  # y-axis label of the values (in real units when `units` is set)
    units: Units | None = None
    series: Series | None = None
    stats: dict[str, Any] = field(default_factory=dict)  # for logs and eval.json only

    def __post_init__(self) -> None:
        needs = [*(("lo", "span") if self.units else ()), *(("names", "start") if self.series else ())]
        for split_name in ("train", "val", "test"):
            split = self.split(split_name)
            for key in needs:
                value = getattr(split, key)
                if value is None or len(value) != len(split):
                    what = "units" if key in ("lo", "span") else "a series"
                    raise ValueError(
                        f"dataset {self.name}: declares {what}, so Split.{key} must hold one value per item "
                        f"({split_name} split: {'none' if value is None else len(value)} for {len(split)} items)"
                    )

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def item_name(self, split: str, index: int) -> str:
        """How figures title one sequence: its series' name when the data name items, else its index."""
        names = self.split(split).names
        return f"{split} {names[index]}" if names is not None else f"{split} sequence #{index}"

    @property
    def input_size(self) -> int:
        return self.train.x.shape[-1]

    @property
    def seq_len(self) -> int:
        return self.train.x.shape[1]


def check_fractions(key: str, fractions: list[float] | tuple[float, ...]) -> None:
    """Split fractions must be three positive numbers that sum to 1."""
    fr = list(fractions)
    if len(fr) != 3 or any(f <= 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ConfigError(f"{key} must be three positive fractions summing to 1 (train, val, test), got {fr}")


def split_counts(n: int, fractions: list[float] | tuple[float, ...]) -> tuple[int, int, int]:
    """Sizes of train/val/test for n items; the test split takes the rounding remainder."""
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    return n_train, n_val, n - n_train - n_val


def check_unit_range(name: str, x: torch.Tensor) -> None:
    """The decoder ends in a sigmoid, so data must be min-max normalized into [0, 1]."""
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0 or x.isnan().any():
        raise ValueError(f"{name}: data must lie in [0, 1] after normalization, found [{lo:.4g}, {hi:.4g}]")


# -- split utilities (cross-validation, evaluation on part of the items) ------------------------
def _take_value(value: Any, index: np.ndarray, n: int) -> Any:
    if isinstance(value, torch.Tensor) and len(value) == n:
        return value[torch.from_numpy(index)]
    if isinstance(value, np.ndarray) and len(value) == n:
        return value[index]
    return value


def take(split: Split, index: np.ndarray) -> Split:
    """A split restricted to some items, per-item arrays (fields and meta) included."""
    index = np.asarray(index, dtype=np.int64)
    n = len(split)
    meta = {key: _take_value(value, index, n) for key, value in split.meta.items()}
    items = {key: _take_value(getattr(split, key), index, n) for key in ITEM_FIELDS}
    y = None if split.y is None else split.y[torch.from_numpy(index)]
    return Split(split.x[torch.from_numpy(index)], y, meta, **items)


def _concat_values(parts: list[Any]) -> Any:
    if any(p is None for p in parts):
        return None
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts)
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return parts[0]


def concat(splits: list[Split]) -> Split:
    """Items of several splits in one; per-item arrays (fields and meta) are concatenated."""
    meta = {key: _concat_values([s.meta[key] for s in splits]) for key in splits[0].meta}
    items = {key: _concat_values([getattr(s, key) for s in splits]) for key in ITEM_FIELDS}
    ys = [s.y for s in splits]
    y = None if any(v is None for v in ys) else torch.cat(ys)
    return Split(torch.cat([s.x for s in splits]), y, meta, **items)


def with_splits(data: SequenceData, **splits: Split) -> SequenceData:
    """A copy of the data with some splits replaced (checked against what the data declare)."""
    return replace(data, **splits)


def groups_of(split: Split) -> np.ndarray:
    """Group of each item: the name of its series when known, else the item itself."""
    return np.asarray(split.names) if split.names is not None else np.arange(len(split)).astype(str)


def names_of(split: Split) -> list[str]:
    """The series names of a split in order of first appearance."""
    return list(dict.fromkeys(np.asarray(split.names).tolist()))


def stat_items(data: SequenceData) -> dict[str, str | int | float | bool]:
    """The plain values of ``data.stats`` (what eval.json records about the data)."""
    return {k: v for k, v in data.stats.items() if isinstance(v, (str, int, float, bool))}
