"""lstm_ae.run.crossval in a sweep: the pruner sees each fold's best validation loss (step = fold), so
Optuna's WilcoxonPruner stops a hopeless configuration between folds (experiment=snp500_cv_sweep)."""

import json

import optuna

from conftest import SNP500_FAST, run_cli


def test_wilcoxon_prunes_a_hopeless_configuration_between_folds(sp500_csv, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", "experiment=snp500_cv_sweep", f"dataset.path={sp500_csv}", "trainer.epochs=1",
                   *SNP500_FAST, "optimizer.lr=0.02,0.000001", f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(study_name="snp500_reconstruct", storage=f"sqlite:///{sweep}/optuna.db")
    good, hopeless = sorted(study.trials, key=lambda t: -t.params["optimizer.lr"])
    assert good.state.name == "COMPLETE" and sorted(good.intermediate_values) == [0, 1, 2, 3]  # the last not needed
    assert hopeless.state.name == "PRUNED" and sorted(hopeless.intermediate_values) == [0, 1, 2, 3]
    for step in range(4):  # paired folds: the hopeless one is worse on each, which is what the test needs
        assert hopeless.intermediate_values[step] > good.intermediate_values[step]
    run = sweep / str(hopeless.number)
    result = json.loads((run / "result.json").read_text())
    assert result["status"] == "pruned" and result["reason"] == "pruned after fold 4 of 5 by the sweeper's pruner"
    assert [f["fold"] for f in result["cv"]["folds"]] == [1, 2, 3, 4] and not (run / "cv" / "fold_5").exists()
    assert result["objective"] == sum(hopeless.intermediate_values.values()) / 4  # the mean of the folds run
    assert len(list((sweep / str(good.number) / "cv").iterdir())) == 5
