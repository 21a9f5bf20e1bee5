"""MNIST on the real IDX files from ../shared/data/mnist (small real subsets keep it fast)."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SHARED_DATA, require_data, run_cli
from lstm_ae.data import mnist
from lstm_ae.errors import ConfigError, DataError


def test_row_and_pixel_shapes_and_scaling(mnist_root):
    row = mnist.load(root=str(mnist_root), input="row", download=False, train_subset=100, test_subset=50)
    pixel = mnist.load(root=str(mnist_root), input="pixel", download=False, train_subset=100, test_subset=50)
    assert row.train.x.shape == (100, 28, 28) and row.input_size == 28 and row.seq_len == 28
    assert pixel.train.x.shape == (100, 784, 1) and pixel.input_size == 1 and pixel.seq_len == 784
    assert torch.equal(row.train.x.reshape(100, 784, 1), pixel.train.x)  # same images, same order
    assert (len(row.val), len(row.test)) == (5000, 50)
    assert float(row.train.x.min()) == 0.0 and float(row.train.x.max()) == 1.0
    full = mnist.load(root=str(mnist_root), download=False)
    assert (len(full.train), len(full.val), len(full.test)) == (55_000, 5_000, 10_000)
    assert torch.bincount(full.test.y).tolist()[:2] == [980, 1135]  # the official test set


def test_missing_truncated_and_garbage_files_give_one_line_errors_naming_the_file(mnist_root, tmp_path):
    with pytest.raises(DataError, match=r"MNIST not found under .*MNIST/raw: missing train-images-idx3-ubyte"):
        mnist.load(root=str(tmp_path / "empty"), download=False)
    assert not (tmp_path / "empty").exists()  # a failed load creates nothing
    raw = tmp_path / "trunc" / "MNIST" / "raw"
    shutil.copytree(mnist_root / "MNIST" / "raw", raw)
    data = (raw / "train-images-idx3-ubyte").read_bytes()
    (raw / "train-images-idx3-ubyte").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as info:
        mnist.load(root=str(tmp_path / "trunc"), download=False)
    message = str(info.value)
    assert message.startswith(str(raw / "train-images-idx3-ubyte")) and "truncated" in message and "\n" not in message
    (raw / "train-images-idx3-ubyte").write_bytes(data)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(np.random.default_rng(0).bytes(10_008))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: not an IDX file of unsigned bytes"):
        mnist.load(root=str(tmp_path / "trunc"), download=False)
    with pytest.raises(ConfigError, match="dataset.input must be one of row, pixel"):
        mnist.load(root=str(mnist_root), input="column", download=False)


def test_a_root_holding_only_the_gz_files_loads():
    gz = require_data(SHARED_DATA / "mnist")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name in mnist.RAW_FILES:
            shutil.copyfile(gz / f"{name}.gz", raw / f"{name}.gz")
        data = mnist.load(root=tmp, download=False, train_subset=100, test_subset=50)
        assert (len(data.train), len(data.test)) == (100, 50)


def test_a_failed_download_says_so_and_creates_nothing(tmp_path):
    """A download that cannot succeed (offline, or here a root that cannot be created, which fails the same
    way on any machine): the message says it was tried and failed, and no folder is left behind."""
    (tmp_path / "a_file").write_text("")
    with pytest.raises(DataError) as info:
        mnist.load(root=str(tmp_path / "a_file" / "mnist"), download=True)
    assert "the download failed" in str(info.value) and "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_classify_on_unlabelled_data_is_refused(tmp_path):
    proc = run_cli("task=classify", "dataset.size=30", f"hydra.run.dir={tmp_path}/r", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: task=classify needs labelled data; dataset=toy has no class labels"


@pytest.mark.slow
def test_short_row_training_lifts_accuracy_far_above_chance(mnist_root, tmp_path):
    """3 epochs on 4,000 real training digits: validation accuracy > 70 % (chance: 10 %);
    result.json, metrics.csv and the printed log hold the same numbers; figures exist."""
    run_dir = tmp_path / "run"
    proc = run_cli(
        "experiment=mnist_classify",
        f"dataset.root={mnist_root}",
        "dataset.download=false",
        "dataset.train_subset=4000",
        "dataset.val_size=1000",
        "dataset.test_subset=1000",
        "trainer.epochs=3",
        "trainer.batch_size=64",
        "model.hidden=64",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((run_dir / "result.json").read_text())
    log = (run_dir / "run.log").read_text()
    printed = float(re.search(r"test \(best checkpoint.*? acc=([0-9.]+)", log).group(1))
    assert result["status"] == "completed" and result["epochs_run"] == 3
    assert abs(result["test"]["acc"] - printed) < 1e-4
    import pandas as pd

    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert {"train_acc", "val_acc", "train_ce", "val_ce", "train_recon", "val_recon"} <= set(metrics.columns)
    assert metrics["val_acc"].max() > 0.70
    assert result["test"]["acc"] > 0.70
    for name in ("accuracy.png", "loss.png", "reconstructions.png", "examples.png"):
        assert (run_dir / name).stat().st_size > 10_000, name
