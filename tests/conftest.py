"""Shared fixtures: real data from ../shared/data, and running run.py for real.

Tests that need ../shared/data skip when it is absent, unless LSTM_AE_REQUIRE_DATA=1
(set by .ci/run), in which case a missing data folder fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("LSTM_AE_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_data(path: Path) -> Path:
    """Return path if it exists; otherwise skip, or fail when LSTM_AE_REQUIRE_DATA=1."""
    if path.exists():
        return path
    message = f"real data not found at {path} (see ../shared/data/README.md)"
    if os.environ.get("LSTM_AE_REQUIRE_DATA") == "1":
        pytest.fail(message + "; LSTM_AE_REQUIRE_DATA=1 forbids skipping")
    pytest.skip(message)


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """The real MNIST IDX files, decompressed into <tmp>/MNIST/raw/ as torchvision expects."""
    from lstm_ae.data.mnist import unpack_gz

    return unpack_gz(require_data(SHARED_DATA / "mnist"), tmp_path_factory.mktemp("mnist_root"))


@pytest.fixture(scope="session")
def sp500_csv() -> Path:
    """The real S&P 500 CSV (gzip) from ../shared/data/sp500."""
    return require_data(SHARED_DATA / "sp500" / "sp500_2014_2017.csv.gz")


SNP500_FAST = ["model.hidden=8", "dataset.stride=50", "process.threads=1", "trainer.batch_size=256"]


@pytest.fixture(scope="session")
def predict_run(sp500_csv, tmp_path_factory) -> Path:
    """One short real S&P 500 predict run through run.py (2 epochs, 2-fold cross-validation), shared by
    the tests that read its results or evaluate it on other data (trained once per session)."""
    run_dir = tmp_path_factory.mktemp("snp_predict") / "run"
    proc = run_cli(
        "experiment=snp500_predict",
        f"dataset.path={sp500_csv}",
        "trainer.epochs=2",
        "dataset.cv_folds=2",
        "task.forecast_every=20",
        "task.multistep_context=10",
        *SNP500_FAST,
        f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 1800, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `python run.py ARGS` as a user would; return the completed process. The timeout only guards
    against a hang: far above any normal time, so a busy machine never fails a test."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run(
        [sys.executable, str(REPO / "run.py"), *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
