"""Typed views of the composed config, checked before any data is loaded or trained.

The defaults of every setting live in one place, the YAML of its config group (conf/model/,
conf/trainer/, conf/process/); the dataclasses here declare only the types and the allowed
ranges. Each section is merged into its schema: OmegaConf rejects wrong types, unknown and
missing keys, and each __post_init__ rejects out-of-range values. Every failure becomes a
one-line ConfigError naming the key and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lstm_ae.errors import ConfigError, first_line

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"  # the config groups (run.py's config_path)
PRECISIONS = ("fp32", "bf16")
DECODER_STARTS = ("zeros", "z")


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


@dataclass
class ModelConfig:
    """conf/model/lstm_ae.yaml"""

    hidden: int = MISSING
    layers: int = MISSING
    dropout: float = MISSING
    input_size: int | None = MISSING
    chrono_init: bool = MISSING
    hoist_decoder_input: bool = MISSING
    center_input: bool = MISSING
    reverse_output: bool = MISSING
    decoder_h0: str = MISSING
    orthogonal_init: bool = MISSING
    forget_bias: float | None = MISSING

    def __post_init__(self) -> None:
        _require(self.hidden > 0, f"model.hidden must be a positive integer, got {self.hidden}")
        _require(self.layers >= 1, f"model.layers must be >= 1, got {self.layers}")
        _require(0.0 <= self.dropout < 1.0, f"model.dropout must be in [0, 1), got {self.dropout}")
        _require(
            self.decoder_h0 in DECODER_STARTS,
            f"model.decoder_h0 must be one of {', '.join(DECODER_STARTS)}; got {self.decoder_h0!r}",
        )
        _require(
            self.input_size is None or self.input_size > 0,
            f"model.input_size must be positive or null (follow the dataset), got {self.input_size}",
        )


@dataclass
class EarlyStoppingConfig:
    patience: int = MISSING
    min_delta: float = MISSING

    def __post_init__(self) -> None:
        _require(self.patience >= 0, f"trainer.early_stopping.patience must be >= 0, got {self.patience}")
        _require(self.min_delta >= 0, f"trainer.early_stopping.min_delta must be >= 0, got {self.min_delta}")


@dataclass
class TrainerConfig:
    """conf/trainer/default.yaml: how one model is trained (the loop's settings, nothing process-wide)."""

    epochs: int = MISSING
    batch_size: int = MISSING
    eval_batch_size: int = MISSING
    grad_clip: float | None = MISSING
    seed: int = MISSING
    device: str = MISSING
    precision: str = MISSING
    early_stopping: EarlyStoppingConfig = MISSING
    log_every_s: float = MISSING
    resume: bool = MISSING
    max_time_s: float | None = MISSING
    n_plot_examples: int = MISSING

    def __post_init__(self) -> None:
        _require(self.epochs >= 1, f"trainer.epochs must be >= 1, got {self.epochs}")
        _require(self.batch_size >= 1, f"trainer.batch_size must be a positive integer, got {self.batch_size}")
        _require(self.eval_batch_size >= 1, f"trainer.eval_batch_size must be >= 1, got {self.eval_batch_size}")
        _require(
            self.grad_clip is None or self.grad_clip >= 0,
            f"trainer.grad_clip must be >= 0 (0 or null turns clipping off), got {self.grad_clip}",
        )
        _require(
            self.precision in PRECISIONS,
            f"trainer.precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}",
        )
        _require(
            self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda", "mps"),
            f"trainer.device must be auto, cpu, cuda[:N] or mps; got {self.device!r}",
        )


@dataclass
class ProcessConfig:
    """conf/process/default.yaml: settings of the whole process a run lives in, not of its training."""

    threads: int = MISSING
    keep_freed_memory: bool = MISSING

    def __post_init__(self) -> None:
        _require(
            self.threads >= 0, f"process.threads must be >= 0 (0 = chosen from the free cores), got {self.threads}"
        )


def _typed(section: str, schema: type, node: Any) -> Any:
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), node)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or getattr(exc, "key", None) or "?"
        first = first_line(exc)
        raise ConfigError(f"{section}.{key}: {first}") from None


@dataclass
class OptimizerConfig:
    """The keys of conf/optimizer/*.yaml that are checked; the others go to the optimizer class as written."""

    lr: float = MISSING
    weight_decay: float = MISSING
    fused: bool | None = None  # absent where the optimizer has no fused kernel (sgd, rmsprop)

    def __post_init__(self) -> None:
        _require(self.lr > 0, f"optimizer.lr must be a positive number, got {self.lr}")
        _require(self.weight_decay >= 0, f"optimizer.weight_decay must be >= 0, got {self.weight_decay}")


SCHEDULER_INTERVALS = ("step", "epoch")


@dataclass
class SchedulerConfig:
    """conf/scheduler/*.yaml: when the schedule steps and what it is given; factory builds it (null: none)."""

    interval: str = MISSING  # step: after every batch; epoch: after every epoch
    needs_total_steps: bool = MISSING  # factory(optimizer, total_steps=epochs x batches per epoch)
    monitor: bool = MISSING  # scheduler.step(validation objective)
    factory: Any = MISSING  # a _partial_ node; instantiated by lstm_ae.run.prepare

    def __post_init__(self) -> None:
        _require(
            self.interval in SCHEDULER_INTERVALS,
            f"scheduler.interval must be one of {', '.join(SCHEDULER_INTERVALS)}; got {self.interval!r}",
        )


CLASS_SOURCES = ("z", "decoder")


def check_optimizer(cfg: DictConfig) -> OptimizerConfig:
    opt = cfg.optimizer
    _require(
        opt is not None and "_target_" in opt,
        f"optimizer: choose one of the optimizer group ({', '.join(group_options('optimizer'))})",
    )
    for key in ("lr", "weight_decay"):  # torch would take a string or a bool here and fail mid-run
        value = opt.get(key)
        _require(
            isinstance(value, (int, float)) and not isinstance(value, bool),
            f"optimizer.{key} must be a number, got {value!r}",
        )
    fused = opt.get("fused")  # torch would take any truthy value, e.g. the string "no", as true
    _require(fused is None or isinstance(fused, bool), f"optimizer.fused must be true, false or null, got {fused!r}")
    return OptimizerConfig(lr=float(opt.lr), weight_decay=float(opt.weight_decay), fused=fused)


def typed_scheduler(node: Any) -> SchedulerConfig:
    """The scheduler section checked (factory left as a config node)."""
    plain = {k: v for k, v in (node or {}).items() if k != "factory"}
    typed = _typed("scheduler", SchedulerConfig, {**plain, "factory": None})
    typed.factory = node.get("factory") if node is not None else None
    return typed


def check_task(cfg: DictConfig) -> None:
    source = cfg.task.get("class_from")
    _require(
        source is None or source in CLASS_SOURCES,
        f"task.class_from must be one of {', '.join(CLASS_SOURCES)}; got {source!r}",
    )


def check_dataset(cfg: DictConfig) -> None:
    _require(
        "_target_" in cfg.dataset, f"dataset: choose one of the dataset group ({', '.join(group_options('dataset'))})"
    )
    folds = cfg.dataset.get("cv_folds")
    _require(
        folds is None or (isinstance(folds, int) and not isinstance(folds, bool) and folds >= 1),
        f"dataset.cv_folds must be an integer >= 1, got {folds}",
    )


def group_options(group: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """The options of a config group: the YAML files in its folder."""
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def group_defaults(group: str, option: str = "default") -> DictConfig:
    """The defaults of one config group option as written in its YAML (for code that builds a run without
    composing the whole config, such as the Python API)."""
    return OmegaConf.load(CONF_DIR / group / f"{option}.yaml")


def typed_model(node: Any) -> ModelConfig:
    return _typed("model", ModelConfig, node)


def typed_trainer(node: Any) -> TrainerConfig:
    return _typed("trainer", TrainerConfig, node)


def typed_process(node: Any) -> ProcessConfig:
    return _typed("process", ProcessConfig, node)


def validate(cfg: DictConfig) -> tuple[ModelConfig, TrainerConfig]:
    """Check the whole config; return typed model and trainer sections (the process section is checked
    here too; lstm_ae.run.prepare applies it)."""
    model = typed_model(cfg.model)
    trainer = typed_trainer(cfg.trainer)
    typed_process(cfg.get("process"))
    check_optimizer(cfg)
    typed_scheduler(cfg.get("scheduler"))
    check_task(cfg)
    check_dataset(cfg)
    return model, trainer
