"""One run's pipeline, shared by run.py (lstm_ae.app), cross-validation (lstm_ae.crossval) and
lstm_ae.evaluate: validate the config and build everything before training (prepare), the model for a
dataset and task, and the figures every run writes.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from lstm_ae import plots
from lstm_ae.allocator import is_applied, keep_freed_memory
from lstm_ae.config import ModelConfig, ProcessConfig, TrainerConfig, typed_process, validate
from lstm_ae.data.base import SequenceData
from lstm_ae.errors import ConfigError, DataError
from lstm_ae.model import LSTMAutoencoder
from lstm_ae.process import auto_threads, usable_cores
from lstm_ae.tasks import Task
from lstm_ae.trainer import effective_precision, resolve_device

log = logging.getLogger("lstm_ae")

RESULT = "result.json"


def parallel_trials() -> int:
    """How many trials the launcher runs at once (joblib n_jobs; -1 = one per core); 1 outside a sweep."""
    try:
        n_jobs = int(HydraConfig.get().launcher.get("n_jobs") or 1)
    except Exception:
        return 1
    return usable_cores() if n_jobs < 0 else max(1, n_jobs)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def worst_value(direction: str) -> float:
    """What a failed trial returns: finite-free but accepted by every Optuna sweeper."""
    return math.inf if direction == "minimize" else -math.inf


def build_model(cfg_model, data: SequenceData, task: Task) -> LSTMAutoencoder:
    if cfg_model.input_size is not None and cfg_model.input_size != data.input_size:
        raise ConfigError(
            f"model.input_size={cfg_model.input_size} does not match dataset={data.name}, whose sequences have "
            f"{data.input_size} feature(s) per step; leave it null to follow the dataset"
        )
    return LSTMAutoencoder(
        input_size=data.input_size,
        hidden=cfg_model.hidden,
        layers=cfg_model.layers,
        dropout=cfg_model.dropout,
        chrono_init=data.seq_len if cfg_model.chrono_init else 0,
        fold_decoder_input=cfg_model.fold_decoder_input,
        **task.model_heads(data.n_classes),
    )


@torch.inference_mode()
def reconstruct(model, task: Task, x: torch.Tensor, device) -> np.ndarray:
    model.eval()
    inp, _ = task.split_batch(x.to(device))
    return model(inp).recon.float().cpu().numpy()


def run_label(width: int = 110) -> str:
    """Which run a figure shows: the trial's number and command-line overrides inside a Hydra job
    (e.g. "trial 3: model.hidden=32 optimizer.lr=0.005"), empty outside one."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return ""
    hc = HydraConfig.get()
    overrides = " ".join(o for o in hc.overrides.task if not o.lstrip("+~").startswith("hydra."))
    label = f"trial {hc.job.num}: {overrides}" if hc.mode.name == "MULTIRUN" else overrides
    return label if len(label) <= width else label[: width - 1] + "…"


def write_plots(
    data: SequenceData, model, task: Task, history: list[dict], out: Path, n_examples: int, device
) -> list[str]:
    """The figures every run has: examples, test reconstructions, learning curves. The reconstruction
    figure names the run it shows (run_label), so a copy in a sweep summary still says which trial."""
    label = run_label()
    plots.plot_examples(data, out / "examples.png", n=min(n_examples, len(data.train)))
    n_rec = min(len(data.test), 3 if data.kind == "signal" else 8)
    idx = list(range(n_rec))
    x = data.test.x[idx]
    inp, _ = task.split_batch(x)
    plots.plot_reconstructions(
        data,
        "test",
        idx,
        inp.numpy(),
        reconstruct(model, task, x, device),
        out / "reconstructions.png",
        f"{data.name}: test originals vs reconstructions (best checkpoint)" + (f"\n{label}" if label else ""),
    )
    files = ["examples.png", "reconstructions.png"]
    if history:
        plots.plot_curves(
            history,
            "loss",
            "loss (reconstruction MSE)" if task.name == "reconstruct" else "loss (MSE + weighted heads)",
            out / "loss.png",
            f"{data.name} / {task.name}: loss vs epoch",
            logy=True,
        )
        files.append("loss.png")
        if "train_acc" in history[0]:
            plots.plot_curves(
                history, "acc", "accuracy", out / "accuracy.png", f"{data.name} / {task.name}: accuracy vs epoch"
            )
            files.append("accuracy.png")
        if "train_pred" in history[0]:
            plots.plot_curves(
                history,
                "pred",
                "in-window prediction MSE\n(normalized; looked ahead)",
                out / "prediction_loss.png",
                f"{data.name}: in-window prediction loss vs epoch\nthe encoder has read all targets but the last: "
                "not a forecast error (val_next, one_step are)",
                logy=True,
            )
            files.append("prediction_loss.png")
    return files


def instantiate_node(node, **kwargs):
    """instantiate, but let our one-line errors through instead of Hydra's wrapper."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, (ConfigError, DataError)):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise


@dataclass
class Prepared:
    """Everything a run needs, built and checked before any training starts."""

    model_cfg: ModelConfig
    trainer_cfg: TrainerConfig
    task: Task
    data: SequenceData
    model: LSTMAutoencoder
    device: torch.device
    optimizer_factory: Any
    scheduler_cfg: dict | None
    n_params: int


def scheduler_config(cfg: DictConfig) -> dict | None:
    """The scheduler section with its factory instantiated, as Trainer takes it; None without one."""
    if not (cfg.get("scheduler") and cfg.scheduler.get("factory")):
        return None
    return {**OmegaConf.to_container(cfg.scheduler), "factory": instantiate_node(cfg.scheduler.factory)}


def apply_process_settings(process_cfg: ProcessConfig) -> None:
    """The process section of a run: CPU threads (process.threads, else chosen from the cores this
    process may use, the parallel trials and other processes' load: lstm_ae.process) and the
    allocator (lstm_ae.allocator)."""
    threads = process_cfg.threads
    if not threads:
        threads, note = auto_threads(parallel_trials())
        if note:
            log.warning(note)
    torch.set_num_threads(threads)
    if process_cfg.keep_freed_memory:
        keep_freed_memory()


def prepare(cfg: DictConfig) -> Prepared:
    """Validate the config, load the data, build the model; raise ConfigError/DataError on bad input."""
    model_cfg, trainer_cfg = validate(cfg)
    task: Task = instantiate_node(cfg.task)
    optimizer_factory = instantiate_node(cfg.optimizer)
    scheduler_cfg = scheduler_config(cfg)
    apply_process_settings(typed_process(cfg.process))
    device = resolve_device(trainer_cfg.device)
    seed_everything(trainer_cfg.seed)
    data: SequenceData = instantiate_node(cfg.dataset)
    task.check_data(data)
    model = build_model(model_cfg, data, task)
    n_params = sum(p.numel() for p in model.parameters())
    folded = model.folds_decoder(device)  # builds the kernel now, not mid-run
    log.info(
        "dataset=%s train/val/test=%d/%d/%d, T=%d, features=%d | model hidden=%d layers=%d params=%d decoder=%s | "
        "task=%s | device=%s threads=%d precision=%s keep_freed_memory=%s",
        data.name,
        len(data.train),
        len(data.val),
        len(data.test),
        data.seq_len,
        data.input_size,
        model_cfg.hidden,
        model_cfg.layers,
        n_params,
        "folded" if folded else "nn.LSTM",
        task.name,
        device,
        torch.get_num_threads(),
        effective_precision(device, trainer_cfg.precision),
        is_applied(),
    )
    return Prepared(model_cfg, trainer_cfg, task, data, model, device, optimizer_factory, scheduler_cfg, n_params)


def fmt_metrics(metrics: dict) -> str:
    return " ".join(
        f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in metrics.items()
        if not isinstance(v, (dict, list))
    )
