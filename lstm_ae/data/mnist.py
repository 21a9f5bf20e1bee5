"""MNIST digits as sequences: row by row (28 steps of 28 values) or pixel by pixel
(784 steps of 1 value). Pixels are scaled to [0, 1].

Loaded through torchvision.datasets.MNIST from `root` (downloaded when allowed and
possible). A seeded split of the 60,000 training images gives train/validation; the
official 10,000 test images are only used for the final evaluation.
"""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from lstm_ae.data.base import SequenceData, Split
from lstm_ae.errors import ConfigError, DataError

log = logging.getLogger(__name__)

INPUTS = ("row", "pixel")
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def unpack_gz(src: Path, root: Path) -> Path:
    """Decompress <src>/<name>.gz IDX files (as shipped) into <root>/MNIST/raw/, where torchvision reads them."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        with gzip.open(src / f"{name}.gz", "rb") as fin, open(raw / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return root


def _find(raw: Path, name: str) -> Path | None:
    """<raw>/<name>, or its .gz as shipped."""
    for path in (raw / name, raw / f"{name}.gz"):
        if path.is_file():
            return path
    return None


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file of unsigned bytes (plain or .gz) as a uint8 tensor; DataError naming the file otherwise."""
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc}); replace it") from None
    if len(data) < 4 or data[:3] != b"\x00\x00\x08" or not 1 <= data[3] <= 3:
        raise DataError(
            f"{path}: not an IDX file of unsigned bytes (starts with {data[:4].hex() or 'nothing'}); replace it"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    size = int(np.prod(dims))
    if len(data) < header + size:
        raise DataError(f"{path}: truncated ({len(data) - header} of {size} data bytes); replace it")
    return torch.frombuffer(bytearray(data[header : header + size]), dtype=torch.uint8).reshape(dims)


def _download(root: Path) -> None:
    """torchvision's download into <root>/MNIST/raw; on failure remove every folder it created."""
    from torchvision.datasets import MNIST

    created = [p for p in (root, root / "MNIST", root / "MNIST" / "raw") if not p.exists()]
    log.info("MNIST not under %s: downloading it (dataset.download=true)", root / "MNIST" / "raw")
    try:
        MNIST(str(root), train=True, download=True)
    except Exception as exc:
        for path in reversed(created):
            shutil.rmtree(path, ignore_errors=True)
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"MNIST not found under {root / 'MNIST' / 'raw'} and the download failed (offline? {reason[:120]}); "
            f"put the IDX files {', '.join(RAW_FILES)} (or their .gz) there, or set dataset.root"
        ) from None


def _load_split(root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    raw = root / "MNIST" / "raw"
    names = RAW_FILES[:2] if train else RAW_FILES[2:]
    paths = [_find(raw, n) for n in names]
    if None in paths and download:
        _download(root)
        paths = [_find(raw, n) for n in names]
    if None in paths:
        missing = [n for n, p in zip(names, paths) if p is None]
        raise DataError(
            f"MNIST not found under {raw}: missing {', '.join(missing)} (or .gz); set dataset.root to the "
            "folder holding MNIST/raw, or dataset.download=true with internet"
        )
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    expected = 60_000 if train else 10_000
    if tuple(images.shape) != (expected, 28, 28):
        raise DataError(
            f"{paths[0]}: holds images of shape {tuple(images.shape)}, expected ({expected}, 28, 28); replace it"
        )
    if tuple(labels.shape) != (expected,) or int(labels.max()) > 9:
        raise DataError(
            f"{paths[1]}: holds {tuple(labels.shape)} labels (max {int(labels.max())}), expected {expected} labels 0-9; replace it"
        )
    return images, labels


def as_sequences(images: torch.Tensor, input: str) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, T, F) in [0, 1]: row (28, 28) or pixel (784, 1)."""
    x = images.float().div_(255.0)
    return x if input == "row" else x.reshape(x.shape[0], -1, 1)


def load(
    name: str = "mnist",
    root: str = "data",
    input: str = "row",
    download: bool = True,
    val_size: int = 5_000,
    train_subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
) -> SequenceData:
    """Official test set for test; a seeded val_size carve-out of the training images for validation."""
    if input not in INPUTS:
        raise ConfigError(f"dataset.input must be one of {', '.join(INPUTS)}; got {input!r}")
    if not 0 < val_size < 60_000:
        raise ConfigError(f"dataset.val_size must be in 1..59999, got {val_size}")
    root_path = Path(root).expanduser()
    train_images, train_labels = _load_split(root_path, True, download)
    test_images, test_labels = _load_split(root_path, False, download)
    perm = torch.randperm(train_images.shape[0], generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if train_subset:
        train_idx = train_idx[:train_subset]
    test_idx = torch.arange(test_images.shape[0])[: test_subset or None]
    splits = [
        Split(as_sequences(images[idx], input), labels[idx].long())
        for images, labels, idx in (
            (train_images, train_labels, train_idx),
            (train_images, train_labels, val_idx),
            (test_images, test_labels, test_idx),
        )
    ]
    return SequenceData(
        name=f"{name}_{input}",
        train=splits[0],
        val=splits[1],
        test=splits[2],
        kind="image",
        image_shape=(28, 28),
        n_classes=10,
        value_label="pixel intensity",
    )
