"""The shape every dataset module hands to the trainer: whole splits as tensors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from lstm_ae.errors import ConfigError


@dataclass
class Split:
    """One split held whole in memory; batches are taken by indexing, never per sample."""

    x: torch.Tensor  # (N, T, F) float32 in [0, 1]
    y: torch.Tensor | None = None  # (N,) int64 class labels, when the data have them
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. stock symbols, dates

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class SequenceData:
    """A dataset ready for training: three splits plus what plots need to show them."""

    name: str
    train: Split
    val: Split
    test: Split
    kind: str = "signal"  # "signal" (value vs time) or "image" (shown as a picture)
    image_shape: tuple[int, int] | None = None
    n_classes: int = 0
    value_label: str = "value"
    # display(split, index, values (T, F)) -> (x-axis values, y values in real units, x label);
    # None: time steps 1..T and normalized values.
    display: Callable[[str, int, np.ndarray], tuple[Any, np.ndarray, str]] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def item_name(self, split: str, index: int) -> str:
        """How figures title one sequence: its symbol when the data name items, else its index."""
        names = self.split(split).meta.get("names")
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
def take(split: Split, index: np.ndarray) -> Split:
    """A split restricted to some items, per-item meta arrays included."""
    index = np.asarray(index, dtype=np.int64)
    n = len(split)
    meta = {}
    for key, value in split.meta.items():
        if isinstance(value, torch.Tensor) and len(value) == n:
            meta[key] = value[torch.from_numpy(index)]
        elif isinstance(value, np.ndarray) and len(value) == n:
            meta[key] = value[index]
        else:
            meta[key] = value
    y = None if split.y is None else split.y[torch.from_numpy(index)]
    return Split(split.x[torch.from_numpy(index)], y, meta)


def concat(splits: list[Split]) -> Split:
    """Items of several splits in one; per-item meta arrays are concatenated."""
    meta = {}
    for key, value in splits[0].meta.items():
        parts = [s.meta[key] for s in splits]
        if isinstance(value, torch.Tensor):
            meta[key] = torch.cat(parts)
        elif isinstance(value, np.ndarray):
            meta[key] = np.concatenate(parts)
        else:
            meta[key] = value
    ys = [s.y for s in splits]
    y = None if any(v is None for v in ys) else torch.cat(ys)
    return Split(torch.cat([s.x for s in splits]), y, meta)


def with_splits(data: SequenceData, **splits: Split) -> SequenceData:
    """A copy of the data with some splits replaced; a display bound to the data is re-bound."""
    new = replace(data, **splits)
    if hasattr(new.display, "bind"):
        new.display = new.display.bind(new)
    return new


def groups_of(split: Split) -> np.ndarray:
    """Group of each item: its stock (meta 'names') when known, else the item itself."""
    names = split.meta.get("names")
    return np.asarray(names) if names is not None else np.arange(len(split)).astype(str)
