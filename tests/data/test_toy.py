"""The synthetic signals exactly as specified (positions count from 1)."""

import pytest
import torch

from lstm_ae.data import toy
from lstm_ae.errors import ConfigError


def test_shape_range_and_dip_are_exact():
    x, centres = toy.generate(n=2000, length=50, seed=3)
    raw = torch.rand(2000, 50, generator=torch.Generator().manual_seed(3))  # the same draws, before the dip
    assert x.shape == (2000, 50)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert int(centres.min()) == 20 and int(centres.max()) == 30
    for row in range(0, 2000, 97):
        i = int(centres[row])
        dip = torch.zeros(50, dtype=torch.bool)
        dip[i - 6 : i + 5] = True  # 1-based positions i-5 … i+5 are indices i-6 … i+4
        assert int(dip.sum()) == 11
        assert torch.allclose(x[row, dip], raw[row, dip] * 0.1)
        assert torch.equal(x[row, ~dip], raw[row, ~dip])


def test_first_dip_position_counts_from_one():
    """With i = 20 the first scaled value is position 15, i.e. index 14, and index 13 is untouched."""
    x, centres = toy.generate(n=500, length=50, seed=0)
    raw = torch.rand(500, 50, generator=torch.Generator().manual_seed(0))
    row = int((centres == 20).nonzero()[0])
    assert torch.isclose(x[row, 14], raw[row, 14] * 0.1)
    assert x[row, 13] == raw[row, 13]
    assert torch.isclose(x[row, 24], raw[row, 24] * 0.1)  # position 25 = i + 5
    assert x[row, 25] == raw[row, 25]


def test_splits_sizes_disjoint_and_deterministic():
    a = toy.load(size=10_000, length=50, seed=7)
    b = toy.load(size=10_000, length=50, seed=7)
    c = toy.load(size=10_000, length=50, seed=8)
    assert (len(a.train), len(a.val), len(a.test)) == (6000, 2000, 2000)
    assert a.train.x.shape == (6000, 50, 1) and a.input_size == 1 and a.seq_len == 50
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.train.x, c.train.x)
    rows = torch.cat([a.train.x, a.val.x, a.test.x])[:, :, 0]
    assert torch.unique(rows, dim=0).shape[0] == 10_000  # every sequence in exactly one split
    for split in (a.train, a.val, a.test):  # min-max normalized into [0, 1]
        assert float(split.x.min()) >= 0.0 and float(split.x.max()) <= 1.0


def test_bad_split_fractions_and_short_length():
    with pytest.raises(ConfigError, match="dataset.splits"):
        toy.load(size=100, splits=(0.6, 0.2, 0.3))
    with pytest.raises(ConfigError, match="dataset.length"):
        toy.load(size=100, length=30)
