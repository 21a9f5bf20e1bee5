"""The reconstruction references: PCA-k and the mean item, fit on the training split only."""

import json

import numpy as np
import pytest

from conftest import run_cli
from lstm_ae.data.toy import load as load_toy
from lstm_ae.evaluation.reference import pca_reconstruct, reconstruction_reference


def test_pca_of_the_data_rank_reconstructs_data_of_that_rank_exactly():
    # train and test items in one 5-dimensional affine subspace of 30 values
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(30, 5)))[0]
    train = 0.5 + rng.normal(size=(400, 5)) @ basis.T * 0.1
    test = 0.5 + rng.normal(size=(100, 5)) @ basis.T * 0.1
    ref = reconstruction_reference(train[..., None], test[..., None], test[..., None], k=5)
    assert ref.test.pca_recon < 1e-12 and ref.val.pca_recon < 1e-12
    fewer = reconstruction_reference(train[..., None], test[..., None], test[..., None], k=4)
    assert fewer.test.pca_recon > 1e-4  # one direction short: not exact any more
    assert ref.test.mean_recon == pytest.approx(np.mean((test - train.mean(0)) ** 2))
    assert ref.note == ""


def test_pca_matches_an_independent_svd_on_the_toy_splits():
    data = load_toy(size=1500)
    train = data.train.x.numpy().reshape(len(data.train), -1).astype(np.float64)
    test = data.test.x.numpy().reshape(len(data.test), -1).astype(np.float64)
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    for k in (4, 16, 32):
        v = vt[:k].T
        expected = np.mean(((test - mean) - (test - mean) @ v @ v.T) ** 2)
        ref = reconstruction_reference(data.train.x, data.val.x, data.test.x, k=k)
        assert ref.test.pca_recon == pytest.approx(expected, rel=1e-6)
    recon = pca_reconstruct(data.train.x, data.test.x[:3].numpy(), 16)
    assert recon.shape == (3, 50, 1)


def test_a_context_as_large_as_an_item_is_said_and_too_few_items_are_no_number():
    x = np.random.default_rng(0).random((40, 10, 1))
    big = reconstruction_reference(x, x, x, k=12)
    assert "can copy its input" in big.note and big.test.pca_recon < 1e-20
    few = reconstruction_reference(x[:8], x, x, k=8)
    assert few.test.pca_recon is None and "not computed" in few.note
    assert few.test.mean_recon > 0


def test_a_run_reports_pca_of_its_context_size_on_its_own_test_split(tmp_path):
    run = tmp_path / "run"
    proc = run_cli(
        "dataset.size=600", "trainer.epochs=1", "model.hidden=8", "trainer.batch_size=128", f"hydra.run.dir={run}"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((run / "result.json").read_text())
    data = load_toy(size=600)
    train = data.train.x.numpy().reshape(len(data.train), -1).astype(np.float64)
    test = data.test.x.numpy().reshape(len(data.test), -1).astype(np.float64)
    mean = train.mean(0)
    vt = np.linalg.svd(train - mean, full_matrices=False)[2][:8].T
    expected = np.mean(((test - mean) - (test - mean) @ vt @ vt.T) ** 2)
    assert result["test"]["pca_recon"] == pytest.approx(expected, rel=1e-6)
    assert result["test"]["mean_recon"] == pytest.approx(np.mean((test - mean) ** 2), rel=1e-6)
    assert result["test"]["recon_vs_pca"] == pytest.approx(result["test"]["recon"] / expected)
    assert result["reference"]["k"] == 8 and result["reference"]["values_per_item"] == 50
