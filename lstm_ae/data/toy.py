"""The synthetic signals of the study.

10,000 sequences of length 50, values uniform in [0, 1]. For each sequence an integer i is
drawn uniformly in [20, 30] and the values at positions i-5 … i+5 are multiplied by 0.1.
Positions count from 1, as the assignment writes them: position p is index p-1, so the
dip covers indices i-6 … i+4 (11 values). Values already lie in [0, 1]; we check that
rather than stretch them, so the dip factor stays exactly 0.1.
"""

from __future__ import annotations

import torch

from lstm_ae.data.base import SequenceData, Split, check_fractions, check_unit_range, split_counts
from lstm_ae.errors import ConfigError
from lstm_ae.machine import fits_in_memory

DIP_FACTOR = 0.1
DIP_HALF_WIDTH = 5


def generate(
    n: int, length: int, seed: int, dip_low: int = 20, dip_high: int = 30
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return signals (n, length) and the 1-based dip centres i (n,)."""
    if dip_low - DIP_HALF_WIDTH < 1 or dip_high + DIP_HALF_WIDTH > length:
        raise ConfigError(
            f"dataset.length={length} too short for dips centred in [{dip_low}, {dip_high}] "
            f"(needs length >= {dip_high + DIP_HALF_WIDTH})"
        )
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, length, generator=gen)
    centres = torch.randint(dip_low, dip_high + 1, (n,), generator=gen)
    positions = torch.arange(1, length + 1)  # 1-based positions
    in_dip = (positions[None, :] >= centres[:, None] - DIP_HALF_WIDTH) & (
        positions[None, :] <= centres[:, None] + DIP_HALF_WIDTH
    )
    x = torch.where(in_dip, x * DIP_FACTOR, x)
    return x, centres


def load(
    name: str = "toy",
    size: int = 10_000,
    length: int = 50,
    splits: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    dip_low: int = 20,
    dip_high: int = 30,
) -> SequenceData:
    """Generate the signals and split them 60/20/20, deterministically for a given seed."""
    if size < 3:
        raise ConfigError(f"dataset.size must be >= 3, got {size}")
    check_fractions("dataset.splits", splits)
    # the float32 signals, their mask and the split copies: about four times the data
    too_big = fits_in_memory(4 * 4 * size * length, f"dataset.size={size} x dataset.length={length}")
    if too_big:
        raise ConfigError(f"{too_big}; choose a smaller dataset.size")
    x, centres = generate(size, length, seed, dip_low, dip_high)
    check_unit_range("toy", x)
    perm = torch.randperm(size, generator=torch.Generator().manual_seed(seed + 1))
    counts = split_counts(size, splits)
    for split, count in zip(("train", "validation", "test"), counts):
        if count < 1:
            raise ConfigError(
                f"dataset.size={size} with dataset.splits={list(splits)} leaves the {split} split empty; "
                "allowed: a larger dataset.size or a larger fraction for it"
            )
    n_train, n_val, _ = counts
    parts = perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]
    train, val, test = (Split(x[idx].unsqueeze(-1), meta={"dip_centre": centres[idx]}) for idx in parts)
    return SequenceData(name=name, train=train, val=val, test=test, kind="signal", value_label="signal value")
