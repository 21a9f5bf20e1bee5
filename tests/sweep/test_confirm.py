"""lstm_ae.sweep.confirm: the best configurations rerun with more seeds, their intervals and the paired test."""

import json
import statistics

import pytest

from conftest import run_cli
from lstm_ae.sweep.confirm import Confirmed, sign_flip_p, verdict


def test_the_sign_flip_test_is_exact_and_the_interval_is_students():
    assert sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)  # all positive: only all-equal flips reach it
    assert sign_flip_p([-0.1] * 6) == pytest.approx(2 / 64)  # 6 seeds: the first n with p < 0.05
    assert sign_flip_p([1.0, -1.0]) == 1.0
    c = Confirmed(0, {"x": 1}, {0: 1.0, 1: 2.0, 2: 3.0})
    assert c.mean == 2.0 and c.half_width == pytest.approx(4.303 * statistics.stdev([1, 2, 3]) / 3**0.5)
    a = Confirmed(1, {"x": 1}, {s: 1.0 + 0.01 * s for s in range(6)})
    b = Confirmed(2, {"x": 2}, {s: 2.0 + 0.01 * s for s in range(6)})
    assert "**distinguishable**" in verdict([b, a], minimize=True) and "Trial 1 vs trial 2" in verdict([a, b], True)


def test_a_sweep_confirms_its_best_configurations_once_and_says_whether_they_differ(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "dataset.size=300", "trainer.epochs=2", "process.threads=1", "model.hidden=4,8,16",
            "hydra.sweeper.confirm_seeds=2", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    saved = json.loads((sweep / "confirm.json").read_text())
    assert saved["seed_key"] == "trainer.seed" and len(saved["configurations"]) == 2
    for c in saved["configurations"]:
        assert sorted(c["values"]) == ["0", "1", "2"]  # the searched seed 0, then 1 and 2
        for seed in (1, 2):
            result = json.loads((sweep / "confirm" / f"{c['trial']}_seed{seed}" / "result.json").read_text())
            assert result["objective"] == pytest.approx(c["values"][str(seed)])
    text = (sweep / "summary.md").read_text()
    assert "## The best configurations over seeds" in text and "sign-flip p = " in text
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0 and "confirming the best" not in again.stdout + again.stderr  # nothing reruns
    bad = run_cli(*args[:-1], "hydra.sweeper.seed_key=trainer.nope", f"hydra.sweep.dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and "hydra.sweeper.seed_key=trainer.nope is not in the config" in bad.stderr
