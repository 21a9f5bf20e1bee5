"""Figures of a run: readable at 100 % (large fonts, labelled axes, legends)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lstm_ae.artifacts import save_figure  # noqa: E402
from lstm_ae.data.base import SequenceData  # noqa: E402

plt.rcParams.update(
    {
        "font.size": 12,
        "axes.titlesize": 13,
        "axes.labelsize": 12,
        "legend.fontsize": 11,
        "axes.grid": True,
        "grid.alpha": 0.3,
    }
)


def _series(data: SequenceData, split: str, index: int, values: np.ndarray):
    """x-axis values, y values in display units, x label (dates or time steps)."""
    if data.display is not None:
        return data.display(split, index, values)
    return np.arange(1, values.shape[0] + 1), values[:, 0], "time step t"


def plot_examples(data: SequenceData, path: Path, n: int = 3) -> None:
    """A few training examples as the model sees them."""
    x = data.train.x[:n].numpy()
    if data.kind == "image":
        fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3))
        for i, ax in enumerate(np.atleast_1d(axes)):
            ax.imshow(x[i].reshape(data.image_shape), cmap="gray", vmin=0, vmax=1)
            label = f" (label {int(data.train.y[i])})" if data.train.y is not None else ""
            ax.set_title(f"example {i + 1}{label}")
            ax.axis("off")
    else:
        fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n), squeeze=False)
        for i, ax in enumerate(axes[:, 0]):
            xs, ys, xlabel = _series(data, "train", i, x[i])
            ax.plot(xs, ys, marker=".", lw=1.2, label=f"{data.name} example {i + 1}")
            ax.set_ylabel(data.value_label)
            ax.set_xlabel(xlabel)
            ax.legend(loc="upper right")
    fig.suptitle(f"{data.name}: training examples")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_reconstructions(
    data: SequenceData, split: str, idx: list[int], originals: np.ndarray, recons: np.ndarray, path: Path, title: str
) -> None:
    """Originals beside reconstructions (images) or overlaid (signals)."""
    n = len(idx)
    if data.kind == "image":
        fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.8), squeeze=False)
        for j in range(n):
            for row, (arr, name) in enumerate(((originals[j], "original"), (recons[j], "reconstruction"))):
                ax = axes[row, j]
                ax.imshow(arr.reshape(data.image_shape), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                if j == 0:
                    ax.set_ylabel(name)
    else:
        fig, axes = plt.subplots(n, 1, figsize=(10, 2.8 * n), squeeze=False)
        for j, ax in enumerate(axes[:, 0]):
            xs, ys, xlabel = _series(data, split, idx[j], originals[j])
            _, yr, _ = _series(data, split, idx[j], recons[j])
            ax.plot(xs, ys, lw=1.6, label="original")
            ax.plot(xs, yr, lw=1.6, ls="--", label="reconstruction")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(data.value_label)
            ax.set_title(data.item_name(split, idx[j]))
            ax.legend(loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_curves(history: list[dict], metric: str, ylabel: str, path: Path, title: str, logy: bool = False) -> None:
    """Train and validation curves of one metric against epoch."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    epochs = [row["epoch"] for row in history]
    for split, style in (("train", "-"), ("val", "--")):
        key = f"{split}_{metric}"
        if history and key in history[0]:
            ax.plot(
                epochs,
                [row[key] for row in history],
                style,
                marker="o",
                ms=4,
                label="validation" if split == "val" else "train",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
