"""A dataset added from outside the package: noisy sines of two frequencies, in its own module.
It uses only the public data contract (lstm_ae.data.base: SequenceData, Split)."""

import math

import torch

from lstm_ae.data.base import SequenceData, Split


def load(name: str = "sines", size: int = 300, length: int = 40, seed: int = 0) -> SequenceData:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)
    labels = torch.randint(0, 2, (size,), generator=g)
    freq = torch.where(labels == 0, 0.1, 0.3)[:, None]
    phase = torch.rand(size, 1, generator=g) * 2 * math.pi
    x = 0.5 + 0.4 * torch.sin(freq * t + phase) + 0.05 * torch.randn(size, length, generator=g)
    x = x.clamp(0, 1).unsqueeze(-1)
    a, b = int(0.6 * size), int(0.8 * size)
    splits = [Split(x[i:j], labels[i:j]) for i, j in ((0, a), (a, b), (b, size))]
    return SequenceData(name, *splits, n_classes=2, value_label="amplitude")
