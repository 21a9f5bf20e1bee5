"""A grid whose axes matter: metrics.csv records how often gradient clipping bound, and the sweep
summary says when a swept parameter changed nothing."""

import pandas as pd
import pytest

from conftest import run_cli
from lstm_ae.sweep.summary import inert_parameters


@pytest.mark.slow
def test_metrics_record_the_clipped_fraction_and_gradient_norms(tmp_path):
    runs = {}
    for clip in ("0", "1e-4"):
        run = tmp_path / clip
        proc = run_cli("dataset.size=300", "trainer.epochs=2", "model.hidden=8", f"trainer.grad_clip={clip}",
                       f"hydra.run.dir={run}", cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[clip] = pd.read_csv(run / "metrics.csv")
    assert (runs["0"]["clipped_frac"] == 0).all()  # no clip: nothing clipped
    assert (runs["1e-4"]["clipped_frac"] == 1).all()  # a clip below every norm binds at every step
    for m in runs.values():
        assert (m["grad_norm_max"] >= m["grad_norm"]).all() and (m["grad_norm"] > 0).all()
    assert "clipped 100%" in (tmp_path / "1e-4" / "run.log").read_text()


def test_summary_names_a_swept_parameter_that_changed_nothing():
    rows = [
        {"model.hidden": h, "trainer.grad_clip": c, "status": "completed", "objective": 0.1 / h + (c == 0.01) * e}
        for h in (8, 16)
        for c in (0, 1, 5, 0.01)
        for e in [0.0]
    ]
    df = pd.DataFrame(rows)
    assert inert_parameters(df, ["model.hidden", "trainer.grad_clip"]) == ["trainer.grad_clip"]
    df.loc[df["trainer.grad_clip"] == 0.01, "objective"] += 0.003  # a clip that binds changes the result
    assert inert_parameters(df, ["model.hidden", "trainer.grad_clip"]) == []
