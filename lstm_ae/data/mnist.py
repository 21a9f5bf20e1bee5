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


def _missing_message(root: Path) -> str:
    raw = root / "MNIST" / "raw"
    return (
        f"MNIST not found under {raw}: expected IDX files {', '.join(RAW_FILES)} (or their .gz); "
        f"set dataset.root to their parent folder or allow dataset.download=true with internet"
    )


def _load_split(root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import MNIST

    try:
        ds = MNIST(str(root), train=train, download=download)
    except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True ..."
        raise DataError(_missing_message(root)) from exc
    except Exception as exc:  # truncated/corrupt IDX files, failed downloads
        if not download or isinstance(exc, (ValueError, EOFError, OSError, AssertionError)):
            raise DataError(
                f"MNIST files under {root / 'MNIST' / 'raw'} are unreadable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); replace them"
            ) from None
        raise DataError(_missing_message(root)) from None
    expected = 60_000 if train else 10_000
    if ds.data.shape != (expected, 28, 28) or ds.targets.shape != (expected,):
        raise DataError(
            f"MNIST {'train' if train else 't10k'} files under {root / 'MNIST' / 'raw'} hold {tuple(ds.data.shape)} images, expected ({expected}, 28, 28); replace them"
        )
    return ds.data, ds.targets


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
