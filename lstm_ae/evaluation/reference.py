"""References for reconstruction, as persistence is for forecasts: what a linear code of the same size
and no code at all achieve on the same items, in the same units as the model's reconstruction MSE.

- PCA-k: the k leading principal directions of the training split (k = the context size, model.hidden),
  fit on the training items only, each item reconstructed as mean + its projection. The best any linear
  encoder/decoder pair with a k-dimensional code can do on the training data.
- The mean sequence: every item reconstructed as the training split's mean item (a code of size 0).

Both are fit on the training split's inputs as the task feeds them to the model (Task.split_batch) and
scored as mean squared error per value on the validation and test items. The principal directions come
from an eigendecomposition of the D x D covariance (D = T x F), so the cost grows with the number of
training items only linearly: about a second for MNIST's 55,000 images. Fits are cached in the process,
keyed by the training inputs' bytes, so trials of a sweep on the same data fit once.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

CHUNK = 8192  # items per block when accumulating the covariance (bounds the float64 copy)


@dataclass(frozen=True)
class LinearCode:
    """The training split's mean and principal directions (columns, by decreasing variance)."""

    mean: np.ndarray  # (D,)
    directions: np.ndarray  # (D, D) eigenvectors of the covariance
    n_train: int

    def errors(self, x: np.ndarray, k: int) -> tuple[float, float]:
        """(PCA-k MSE, mean-item MSE) of items x (N, D), per value."""
        centred = x.astype(np.float64) - self.mean
        v = self.directions[:, :k]
        residual = centred - (centred @ v) @ v.T
        return float(np.mean(residual**2)), float(np.mean(centred**2))

    def reconstruct(self, x: np.ndarray, k: int) -> np.ndarray:
        """Items x (N, ...) reconstructed as mean + their projection on the k leading directions."""
        rows = np.asarray(x).reshape(len(x), -1).astype(np.float64) - self.mean
        v = self.directions[:, :k]
        return ((rows @ v) @ v.T + self.mean).reshape(np.shape(x))


@dataclass(frozen=True)
class SplitReference:
    pca_recon: float | None  # PCA-k reconstruction MSE; None when it cannot be computed
    mean_recon: float  # the training mean item's MSE


@dataclass(frozen=True)
class ReconReference:
    """PCA-k and mean-item references of one run, per split, with a note when a number means little."""

    k: int  # the context size the PCA is given
    values_per_item: int  # D = T x F: a context this large can copy its input
    n_train: int
    val: SplitReference
    test: SplitReference
    note: str = ""
    method: str = field(default="PCA on the training split's inputs; MSE per value", repr=False)
    code: LinearCode | None = field(default=None, repr=False, compare=False)  # the fit, for figures

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "code"}


_cache: dict[str, LinearCode] = {}


def flat(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Items (N, T, F) as rows of N x D values."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return arr.reshape(len(arr), -1)


def fit_linear_code(train: np.ndarray) -> LinearCode:
    """Mean and principal directions of the rows of train (N, D); cached by the rows' bytes."""
    key = hashlib.blake2b(np.ascontiguousarray(train).view(np.uint8), digest_size=16).hexdigest()
    if key not in _cache:
        mean = train.mean(axis=0, dtype=np.float64)
        cov = np.zeros((train.shape[1], train.shape[1]))
        for start in range(0, len(train), CHUNK):
            block = train[start : start + CHUNK].astype(np.float64) - mean
            cov += block.T @ block
        eigenvalues, vectors = np.linalg.eigh(cov)
        _cache[key] = LinearCode(mean=mean, directions=vectors[:, np.argsort(eigenvalues)[::-1]], n_train=len(train))
    return _cache[key]


def reconstruction_reference(train_x, val_x, test_x, k: int) -> ReconReference:
    """PCA-k and mean-item references fit on train_x, scored on val_x and test_x (tensors or arrays)."""
    train, val, test = flat(train_x), flat(val_x), flat(test_x)
    d = train.shape[1]
    code = fit_linear_code(train)
    can_fit = 0 < k < len(train)
    note = ""
    if not can_fit:
        note = f"PCA-{k} needs more than {k} training items (has {len(train)}): not computed"
    elif k >= d:
        note = (
            f"the context ({k} values) is at least as large as an item ({d} values): "
            "the model can copy its input, and PCA reconstructs it exactly"
        )

    def score(x: np.ndarray) -> SplitReference:
        pca, mean = code.errors(x, min(k, d))
        if k >= d:
            pca = 0.0  # every direction kept: exact (what remains is rounding)
        return SplitReference(pca_recon=pca if can_fit else None, mean_recon=mean)

    return ReconReference(
        k=k, values_per_item=d, n_train=len(train), val=score(val), test=score(test), note=note, code=code
    )


def pca_reconstruct(train_x, x, k: int) -> np.ndarray:
    """Items x reconstructed by PCA-k of train_x, in x's shape (for figures)."""
    return fit_linear_code(flat(train_x)).reconstruct(x, k)
