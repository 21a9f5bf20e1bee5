"""Typed views of the composed config, checked before any data is loaded or trained.

Each section is merged into a dataclass schema: OmegaConf rejects wrong types and
unknown keys, and each __post_init__ rejects out-of-range values. Every failure becomes a
one-line ConfigError naming the key and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lstm_ae.errors import ConfigError

PRECISIONS = ("fp32", "bf16")


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


@dataclass
class ModelConfig:
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.0
    input_size: int | None = None  # None: follow the dataset
    chrono_init: bool = False  # chrono gate-bias init (Tallec & Ollivier 2018), T_max = sequence length
    fold_decoder_input: bool = True  # decoder computes W_ih z once (C++ kernel, CPU); false: plain nn.LSTM

    def __post_init__(self) -> None:
        _require(self.hidden > 0, f"model.hidden must be a positive integer, got {self.hidden}")
        _require(self.layers >= 1, f"model.layers must be >= 1, got {self.layers}")
        _require(0.0 <= self.dropout < 1.0, f"model.dropout must be in [0, 1), got {self.dropout}")
        _require(
            self.input_size is None or self.input_size > 0,
            f"model.input_size must be positive or null (follow the dataset), got {self.input_size}",
        )


@dataclass
class EarlyStoppingConfig:
    patience: int = 0  # epochs without improvement before stopping; 0 = off
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _require(self.patience >= 0, f"trainer.early_stopping.patience must be >= 0, got {self.patience}")
        _require(self.min_delta >= 0, f"trainer.early_stopping.min_delta must be >= 0, got {self.min_delta}")


@dataclass
class TrainerConfig:
    epochs: int = 30
    batch_size: int = 64
    eval_batch_size: int = 4096
    grad_clip: float | None = 1.0  # 0 or null: off
    seed: int = 0
    device: str = "auto"  # auto: CUDA when present, else CPU
    threads: int = 0  # CPU threads for this process; 0 = PyTorch's default
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    keep_freed_memory: bool = True  # glibc: reuse freed buffers instead of re-faulting pages (lstm_ae.allocator)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    log_every_s: float = 30.0  # progress line inside long epochs
    resume: bool = True  # continue from last.pt when the run folder has one
    max_time_s: float | None = None  # stop after this much training time (checked per epoch)
    n_plot_examples: int = 3

    def __post_init__(self) -> None:
        _require(self.epochs >= 1, f"trainer.epochs must be >= 1, got {self.epochs}")
        _require(self.batch_size >= 1, f"trainer.batch_size must be a positive integer, got {self.batch_size}")
        _require(self.eval_batch_size >= 1, f"trainer.eval_batch_size must be >= 1, got {self.eval_batch_size}")
        _require(
            self.grad_clip is None or self.grad_clip >= 0,
            f"trainer.grad_clip must be >= 0 (0 or null turns clipping off), got {self.grad_clip}",
        )
        _require(self.threads >= 0, f"trainer.threads must be >= 0 (0 = default), got {self.threads}")
        _require(
            self.precision in PRECISIONS,
            f"trainer.precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}",
        )
        _require(
            self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda", "mps"),
            f"trainer.device must be auto, cpu, cuda[:N] or mps; got {self.device!r}",
        )


def _typed(section: str, schema: type, node: Any) -> Any:
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), node)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or getattr(exc, "key", None) or "?"
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{section}.{key}: {first}") from None


def check_optimizer(cfg: DictConfig) -> None:
    opt = cfg.optimizer
    _require(
        opt is not None and "_target_" in opt,
        "optimizer: choose one of the optimizer group (adam, adamw, sgd, rmsprop)",
    )
    lr = opt.get("lr")
    _require(isinstance(lr, (int, float)) and lr > 0, f"optimizer.lr must be a positive number, got {lr}")
    wd = opt.get("weight_decay", 0.0)
    _require(isinstance(wd, (int, float)) and wd >= 0, f"optimizer.weight_decay must be >= 0, got {wd}")
    fused = opt.get("fused")  # torch would take any truthy value, e.g. the string "no", as true
    _require(fused is None or isinstance(fused, bool), f"optimizer.fused must be true, false or null, got {fused!r}")


def validate(cfg: DictConfig) -> tuple[ModelConfig, TrainerConfig]:
    """Check the whole config; return typed model and trainer sections."""
    model = _typed("model", ModelConfig, cfg.model)
    trainer = _typed("trainer", TrainerConfig, cfg.trainer)
    check_optimizer(cfg)
    _require("_target_" in cfg.dataset, "dataset: choose one of the dataset group (toy, mnist, snp500)")
    return model, trainer
