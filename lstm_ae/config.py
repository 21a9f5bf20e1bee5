"""Typed views of the composed config, checked before any data is loaded or trained.

The defaults of every setting live in one place, the YAML of its config group (conf/model/,
conf/trainer/, conf/process/); the dataclasses here declare only the types and the allowed
ranges. Each section is merged into its schema: OmegaConf rejects wrong types, unknown and
missing keys, and each __post_init__ rejects out-of-range values. Every failure becomes a
one-line ConfigError naming the key and what is allowed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lstm_ae.errors import ConfigError, DataError, first_line


def _hydra_version() -> tuple[int, int]:
    from importlib.metadata import version

    major, minor = (int(part) for part in version("hydra-core").split(".")[:2])
    return major, minor


HYDRA_14 = _hydra_version() >= (1, 4)
# version_base for hydra.main/initialize: Hydra 1.3 needs "1.3" (else a warning and 1.1's defaults); Hydra 1.4
# deprecates the parameter (gone in 1.5) and has 1.3's defaults, so it gets none
HYDRA_BASE: dict[str, str] = {} if HYDRA_14 else {"version_base": "1.3"}


def _targets(node: Any) -> list[str]:
    """Every `_target_` named in a config node, nested ones included."""
    if isinstance(node, DictConfig | dict):
        found = [str(node["_target_"])] if "_target_" in node else []
        return found + [t for value in node.values() for t in _targets(value)]
    if isinstance(node, list | tuple) or OmegaConf.is_list(node):
        return [t for value in node for t in _targets(value)]
    return []


def build(node: Any, *args: Any, **kwargs: Any) -> Any:
    """hydra.utils.instantiate of a node of the composed config. Hydra 1.4 asks the caller to name the targets
    it trusts (its execution whitelist: a warning in 1.4, an error in 1.5): here they are the targets the
    config itself names, which its author (the user, or our conf/) wrote. Hydra 1.3 has no whitelist."""
    from hydra.utils import instantiate

    if HYDRA_14:
        kwargs["_execution_whitelist_"] = sorted({name for t in _targets(node) for name in _names_of(t)})
    return instantiate(node, *args, **kwargs)


def _names_of(target: str) -> list[str]:
    """A target as written and where it lives (Hydra 1.4 checks the defining module:
    optuna.study.MaxTrialsCallback is optuna._callbacks.MaxTrialsCallback)."""
    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception:  # noqa: BLE001  (instantiate then says what is wrong with it)
        return [target]
    return [target, f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"]


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

    def min_parameters(self) -> int:
        """The fewest parameters this model has on any dataset (one feature per step): per layer, the
        encoder's 4h(in + h) + 8h and the decoder's (fed z: in = h), plus the output layer."""
        h = self.hidden
        encoder = 4 * h * (1 + h) + 8 * h + (self.layers - 1) * (8 * h * h + 8 * h)
        decoder = self.layers * (8 * h * h + 8 * h)
        return encoder + decoder + h + 1


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
        _require(
            self.max_time_s is None or self.max_time_s > 0,
            f"trainer.max_time_s must be a number of seconds > 0, or null for no budget; got {self.max_time_s}",
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


CSV_SOURCE = 'download the Kaggle dataset "S&P 500 stock prices 2014-2017" and set dataset.path=<its CSV>'


def check_data_file(path: Any) -> Path:
    """A dataset's file (dataset.path) exists: checked with the config, before a run or a sweep starts."""
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise DataError(f"dataset.path={p}: {'a folder' if p.is_dir() else 'file not found'}; {CSV_SOURCE}")
    return p


def check_dataset(cfg: DictConfig) -> None:
    _require(
        "_target_" in cfg.dataset, f"dataset: choose one of the dataset group ({', '.join(group_options('dataset'))})"
    )
    folds = cfg.dataset.get("cv_folds")
    _require(
        folds is None or (isinstance(folds, int) and not isinstance(folds, bool) and folds >= 1),
        f"dataset.cv_folds must be an integer >= 1, got {folds}",
    )
    if cfg.dataset.get("path") is not None:
        check_data_file(cfg.dataset.path)


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


# -- the settings that shape a result ----------------------------------------------------------
# A run folder and a sweep's study each remember the settings they were made with (the folder in
# `.hydra/config.yaml`, the study in a user attribute): a rerun that would continue them with other
# settings is refused in one line naming the keys (lstm_ae.run.rerun, lstm_ae.sweep.optuna_sweep).
# Left out: the keys of RUN_FREE and STUDY_FREE, which may change between a run and its continuation
# without changing what it computes, only how long or where it trains (docs/sweeps.md, "Reruns").

# settings a run folder may be continued with (more epochs, another budget, another machine)
RUN_FREE = (
    "hydra",
    "trial_ctx",
    "process",  # threads and allocator: how fast, not what
    "trainer.epochs",  # more epochs continue the run (the schedule is played forward)
    "trainer.max_time_s",
    "trainer.resume",
    "trainer.log_every_s",
    "trainer.n_plot_examples",
    "trainer.eval_batch_size",
    "trainer.device",  # a run may move to a GPU and back
    "dataset.root",  # where the same files live
    "dataset.download",
)
# a study compares its trials, so their budgets must match: epochs and time budget count there
STUDY_FREE = tuple(k for k in RUN_FREE if k not in ("trainer.epochs", "trainer.max_time_s"))


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def _container(cfg: DictConfig | dict) -> dict:
    if isinstance(cfg, dict):
        return cfg
    plain = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]) if "hydra" in cfg else cfg
    try:
        return OmegaConf.to_container(plain, resolve=True)
    except Exception:  # an interpolation that needs Hydra's runtime: compare the text as written
        return OmegaConf.to_container(plain, resolve=False)


def settings(cfg: DictConfig | dict, free: tuple[str, ...] = RUN_FREE, swept: tuple[str, ...] = ()) -> dict[str, str]:
    """The config's settings that shape the result, flat ("optimizer.lr" -> "0.01"), minus the free
    keys (and everything under them) and the swept ones."""
    skip = (*free, *swept)
    out = {}
    for key, value in _flat(_container(cfg)).items():
        if any(key == s or key.startswith(f"{s}.") for s in skip):
            continue
        out[key] = json.dumps(value, sort_keys=True, default=str)
    return out


def differences(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """'key: old -> new' for every key whose value differs (absent on one side counts)."""
    out = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key, "(absent)"), new.get(key, "(absent)")
        if a != b:
            out.append(f"{key}: {a.strip(chr(34))} → {b.strip(chr(34))}")
    return out


def describe(diffs: list[str], limit: int = 3) -> str:
    """The first few differences on one line."""
    more = f" and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "; ".join(diffs[:limit]) + more
