"""The Python API: fit / encode / reconstruct / save / load on the real model and trainer."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO, run_cli
from lstm_ae import fit, load
from lstm_ae.errors import ConfigError


def test_the_two_line_example_prints_the_context_shape():
    code = (
        "from lstm_ae import fit; import numpy as np; m = fit(np.random.rand(256, 50, 1), hidden=8, epochs=2); "
        "print(m.encode(np.random.rand(4, 50, 1)).shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "(4, 8)"


def test_fit_learns_scales_back_and_round_trips_through_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(30)
    X = np.stack([100 + 20 * np.sin(0.3 * t + p) for p in rng.uniform(0, 6.28, 300)])[..., None]  # units: 80..120
    model = fit([x for x in X], hidden=16, epochs=8, lr=0.01, out=tmp_path / "run")
    assert model.result["status"] == "completed" and (tmp_path / "run" / "metrics.csv").exists()
    rec = model.reconstruct(X[:50])
    assert rec.shape == (50, 30, 1) and 70 < rec.mean() < 130  # back in X's units
    assert np.mean((rec - X[:50]) ** 2) < np.var(X)  # better than predicting the mean
    model.save(tmp_path / "ae.pt")
    again = load(tmp_path / "ae.pt")
    np.testing.assert_allclose(again.encode(X[:5]), model.encode(X[:5]), rtol=1e-5, atol=1e-6)
    assert model.encode(torch.from_numpy(X[:3]).float()).shape == (3, 16)


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((0, 5, 1)), "X is empty"),
        (np.random.rand(4, 5), "X must be (N, T, F)"),
        (np.array([[[np.nan]]] * 3), "NaN or infinite"),
        ([np.zeros((5, 1)), np.zeros((6, 1))], "sequences must have equal shapes"),
    ],
)
def test_bad_input_is_one_line(X, message):
    with pytest.raises(ConfigError) as info:
        fit(X, epochs=1)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_load_reads_a_run_folder(tmp_path):
    run = tmp_path / "run"
    proc = run_cli("dataset.size=300", "trainer.epochs=1", "model.hidden=8", f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    model = load(run)
    x = np.random.default_rng(1).random((4, 50, 1))
    assert model.encode(x).shape == (4, 8) and model.reconstruct(x).shape == (4, 50, 1)
