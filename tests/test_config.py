"""Every config group composes; bad values give one-line errors before training."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from conftest import REPO, run_cli
from lstm_ae.config import (
    HYDRA_BASE,
    RUN_FREE,
    STUDY_FREE,
    build,
    describe,
    differences,
    group_options,
    settings,
    validate,
)
from lstm_ae.errors import ConfigError
from lstm_ae.run.prepare import prepare

CONF = REPO / "conf"


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), **HYDRA_BASE):
        return compose("config", overrides=list(overrides))


def _with_its_file(tmp_path, *overrides: str):
    """The composed config; a dataset that reads a file (dataset.path) is pointed at an existing one."""
    cfg = _compose(*overrides)
    if cfg.dataset.get("path") is None:
        return cfg
    (tmp_path / "prices.csv").touch()
    return _compose(*overrides, f"dataset.path={tmp_path / 'prices.csv'}")


def test_a_missing_data_file_is_one_line_with_where_to_get_it(tmp_path):
    from lstm_ae.errors import DataError

    with pytest.raises(DataError, match=r"^dataset\.path=.*nope\.csv: file not found; download the Kaggle dataset"):
        validate(_compose("dataset=snp500", f"dataset.path={tmp_path / 'nope.csv'}"))


@pytest.mark.parametrize(
    "group,option",
    [
        (g, o)
        for g in ("model", "dataset", "optimizer", "scheduler", "task", "trainer", "process")
        for o in group_options(g)
    ],
)
def test_every_group_option_composes_and_validates(group, option, tmp_path):
    cfg = _with_its_file(tmp_path, f"{group}={option}")
    validate(cfg)
    assert cfg[group] is not None
    if group == "optimizer":
        import torch

        opt = build(cfg.optimizer)([torch.nn.Parameter(torch.zeros(2))])
        assert opt.param_groups[0]["lr"] == cfg.optimizer.lr
    if group == "task":
        assert build(cfg.task).objective.startswith("val_")


@pytest.mark.parametrize("preset", group_options("experiment"))
def test_every_experiment_preset_composes(preset, tmp_path):
    cfg = _with_its_file(tmp_path, f"experiment={preset}")
    validate(cfg)
    build(cfg.task)


def test_assignment_parameters_are_overrides():
    cfg = _compose(
        "model.input_size=1",
        "model.hidden=12",
        "trainer.epochs=3",
        "optimizer=sgd",
        "optimizer.lr=0.05",
        "trainer.grad_clip=0.5",
        "trainer.batch_size=32",
    )
    model, trainer = validate(cfg)
    assert (model.input_size, model.hidden, trainer.epochs, trainer.grad_clip, trainer.batch_size) == (
        1,
        12,
        3,
        0.5,
        32,
    )
    assert cfg.optimizer._target_ == "torch.optim.SGD" and cfg.optimizer.lr == 0.05


def test_help_lists_groups_and_cfg_job_prints_config(tmp_path):
    help_out = run_cli("--help", cwd=tmp_path)
    assert help_out.returncode == 0
    for group in ("dataset", "model", "optimizer", "scheduler", "task", "trainer"):
        assert f"{group}:" in help_out.stdout
    cfg_out = run_cli("--cfg", "job", "model.hidden=23", cwd=tmp_path)
    assert cfg_out.returncode == 0 and "hidden: 23" in cfg_out.stdout


BAD_VALUES = [
    ("model.hidden=0", "model.hidden must be a positive integer"),
    ("model.hidden=-3", "model.hidden must be a positive integer"),
    ("optimizer.lr=0", "optimizer.lr must be a positive number"),
    ("optimizer.lr=-0.1", "optimizer.lr must be a positive number"),
    ("optimizer.fused=maybe", "optimizer.fused must be true, false or null"),
    ("trainer.batch_size=0", "trainer.batch_size must be a positive integer"),
    ("dataset.splits=[0.5,0.2,0.2]", "dataset.splits must be three positive fractions summing to 1"),
    ("model.hidden=abc", "model.hidden"),
    ("trainer.precision=fp8", "trainer.precision must be one of fp32, bf16"),
    ("task.objective=val_acc", "task.objective must be one of val_loss, val_recon"),
    ("model.input_size=3", "model.input_size=3 does not match dataset=toy"),
]


@pytest.mark.parametrize("override,expected", BAD_VALUES)
def test_bad_values_are_config_errors(override, expected):
    with pytest.raises(ConfigError) as info:
        prepare(_compose(override, "dataset.size=30"))
    assert expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "override,expected",
    [
        ("model.hidden=0", "model.hidden must be a positive integer"),
        ("dataset.splits=[0.5,0.2,0.2]", "dataset.splits must be three positive fractions summing to 1"),
        ("optimizer=adamm", "unknown optimizer 'adamm'; allowed: adam, adamw, rmsprop, sgd"),
        ("dataset=imagenet", "unknown dataset 'imagenet'; allowed:"),
    ],
)
def test_cli_prints_one_line_error_before_training(tmp_path: Path, override, expected):
    proc = run_cli(override, "trainer.epochs=1", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path, timeout=1800)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert not (tmp_path / "run" / "metrics.csv").exists()  # nothing trained


def test_a_missing_cuda_device_is_one_line_before_anything_is_built(tmp_path: Path):
    import torch

    if torch.cuda.is_available():
        override, expected = f"trainer.device=cuda:{torch.cuda.device_count()}", "CUDA device(s)"
    else:
        override, expected = "trainer.device=cuda", "trainer.device=cuda: no CUDA device on this machine"
    proc = run_cli(override, "trainer.epochs=1", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path, timeout=1800)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
    assert not (tmp_path / "run" / "result.json").exists() or "failed" in (tmp_path / "run" / "result.json").read_text()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["model.hidden=16,abc"], "model.hidden: Value 'abc' of type 'str' could not be converted to Integer"),
        (["model.hidden=8", "optimizer.lr=0.01,-1"], "optimizer.lr must be"),
        (
            ["hydra.sweeper.sampler=grid", "model.hidden=8,16"],
            "choose a sampler with the group override hydra/sweeper/sampler=grid",
        ),
    ],
)
def test_every_grid_point_is_checked_before_the_first_trial(tmp_path: Path, args, expected):
    proc = run_cli("-m", *args, "trainer.epochs=1", f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path, timeout=1800)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
    assert not (tmp_path / "sweep").exists()  # nothing ran


def test_defaults_live_only_in_the_group_yaml():
    """The schemas declare types and ranges but no values: a setting's default is written once, in YAML,
    and a key missing there (or a key the schema lacks) is a one-line error naming it."""
    import dataclasses

    from omegaconf import MISSING, OmegaConf

    from lstm_ae.config import ModelConfig, ProcessConfig, TrainerConfig, group_defaults, typed_trainer

    for schema in (ModelConfig, TrainerConfig, ProcessConfig):
        for f in dataclasses.fields(schema):
            assert f.default is MISSING, f"{schema.__name__}.{f.name} has a default in Python"
    node = group_defaults("trainer")
    assert typed_trainer(node).epochs == node.epochs
    del node["epochs"]
    with pytest.raises(ConfigError, match=r"^trainer\.epochs: .*missing mandatory value"):
        typed_trainer(node)
    with pytest.raises(ConfigError, match=r"^trainer\.threads: Key 'threads' not in 'TrainerConfig'"):
        typed_trainer(OmegaConf.merge(group_defaults("trainer"), {"threads": 2}))


def test_process_threads_is_checked():
    validate(_compose("process.threads=3"))
    with pytest.raises(ConfigError, match=r"^process\.threads must be >= 0"):
        validate(_compose("process.threads=-1"))


def test_figures_name_the_trial_they_show():
    """Inside a sweep's job the reconstruction figure's title carries the trial number and its overrides."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict

    from lstm_ae.run.outputs import run_label

    assert run_label() == ""  # outside a Hydra job
    with initialize_config_dir(config_dir=str(CONF), **HYDRA_BASE):
        cfg = compose("config", overrides=["model.hidden=32", "optimizer.lr=0.005"], return_hydra_config=True)
        long = compose(
            "config",
            overrides=["dataset=snp500", "dataset.path=/home/student/courses/deep-learning/hw2/data/sp500.csv.gz"],
            return_hydra_config=True,
        )
    with open_dict(cfg), open_dict(long):
        cfg.hydra.mode = RunMode.MULTIRUN
        cfg.hydra.job.num = 3
        long.hydra.mode = RunMode.RUN
    HydraConfig.instance().set_config(cfg)
    try:
        assert run_label() == "trial 3: model.hidden=32 optimizer.lr=0.005"
        assert len(run_label(width=20)) == 20
        HydraConfig.instance().set_config(long)  # a long path is named by its file; the config holds it whole
        assert run_label() == "dataset=snp500 dataset.path=…/sp500.csv.gz"
    finally:
        HydraConfig.instance().cfg = None


# -- the settings that shape a result (reruns) --
def _cfg_with_hydra(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), **HYDRA_BASE):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def test_the_settings_that_shape_a_result_differ_and_the_free_ones_do_not():
    base = settings(_cfg_with_hydra())
    assert "hydra.run.dir" not in base and not any(k.startswith("process.") for k in base)
    assert (
        differences(base, settings(_cfg_with_hydra("trainer.epochs=7", "process.threads=1", "trainer.device=cpu")))
        == []
    )
    diffs = differences(base, settings(_cfg_with_hydra("optimizer.lr=0.01")))
    assert diffs == ["optimizer.lr: 0.02 → 0.01", "scheduler.factory.max_lr: 0.02 → 0.01"]  # the peak follows lr
    assert describe(diffs, limit=1) == "optimizer.lr: 0.02 → 0.01 and 1 more"
    assert differences(base, settings(_cfg_with_hydra("model=plain")))  # another model group


def test_a_study_counts_epochs_and_ignores_its_swept_keys():
    assert "trainer.epochs" in RUN_FREE and "trainer.epochs" not in STUDY_FREE
    a = settings(_cfg_with_hydra("model.hidden=8"), free=STUDY_FREE, swept=("model.hidden",))
    b = settings(_cfg_with_hydra("model.hidden=32", "trainer.epochs=3"), free=STUDY_FREE, swept=("model.hidden",))
    assert differences(a, b) == ["trainer.epochs: 100 → 3"]
