"""A new dataset is one module plus one YAML, with no change under lstm_ae/: it trains, is evaluated
on its test split, plotted and swept through run.py (its config folder joined with hydra.searchpath)."""

import json
import os

from conftest import REPO, run_cli

APP = REPO / "tests" / "apps" / "sines"


def _env() -> dict:
    return {"PYTHONPATH": os.pathsep.join([str(APP), os.environ.get("PYTHONPATH", "")])}


def test_a_dataset_from_its_own_module_and_yaml_trains_evaluates_and_plots(tmp_path):
    run = tmp_path / "run"
    proc = run_cli(
        "dataset=sines", "task=classify", "model.hidden=8", "trainer.epochs=2",
        f"hydra.searchpath=[file://{APP / 'conf'}]", f"hydra.run.dir={run}", cwd=tmp_path, env=_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((run / "result.json").read_text())
    assert result["status"] == "completed" and result["test_size"] == 60 and result["train_size"] == 180
    assert 0 <= result["test"]["acc"] <= 1 and result["test"]["recon"] > 0
    for name in ("examples.png", "reconstructions.png", "loss.png", "accuracy.png"):
        assert (run / name).stat().st_size > 5_000, name


def test_an_unknown_dataset_is_still_refused_with_the_searchpath_options(tmp_path):
    proc = run_cli("dataset=sinez", f"hydra.searchpath=[file://{APP / 'conf'}]", cwd=tmp_path, env=_env())
    assert proc.returncode == 2
    assert "unknown dataset 'sinez'; allowed: mnist, sines, snp500, toy" in proc.stderr
