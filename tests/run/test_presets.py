"""Every preset in conf/experiment/ runs through run.py: a few steps on a small subset of its real data,
with the preset's own model, task, optimizer, scheduler and precision (S&P presets: tests/run/test_snp500_runs.py
trains both on the real CSV)."""

import json

import pytest

from conftest import run_cli
from lstm_ae.config import group_options

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them

SMALL = {
    "toy": ["dataset.size=600"],  # enough steps for the default one-cycle schedule
    "mnist": ["dataset.download=false", "dataset.train_subset=256", "dataset.val_size=128", "dataset.test_subset=128"],
}


@pytest.mark.parametrize("preset", [p for p in group_options("experiment") if not p.startswith("snp500")])
def test_preset_runs_a_few_steps(preset, tmp_path, request):
    data = "mnist" if preset.startswith("mnist") else "toy"
    extra = [f"dataset.root={request.getfixturevalue('mnist_root')}"] if data == "mnist" else []
    run = tmp_path / "run"
    proc = run_cli(
        f"experiment={preset}", *SMALL[data], *extra, "trainer.epochs=1", f"hydra.run.dir={run}",
        cwd=tmp_path, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((run / "result.json").read_text())
    assert result["status"] == "completed" and result["epochs_run"] == 1
    assert result["test"]["loss"] > 0 and (run / "reconstructions.png").exists()
