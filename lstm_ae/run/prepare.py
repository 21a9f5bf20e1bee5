"""Everything a run builds before training, checked first: the validated config, the task, optimizer
and scheduler factories, the runtime settings, the data and the model (prepare -> Prepared). Shared by
the single run, cross-validation, `python -m lstm_ae.apps.evaluate` and the Python API."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from lstm_ae.config import (
    ModelConfig,
    ProcessConfig,
    SchedulerConfig,
    TrainerConfig,
    build,
    typed_process,
    typed_scheduler,
    validate,
)
from lstm_ae.data.base import SequenceData, concat, groups_of
from lstm_ae.errors import ConfigError, DataError
from lstm_ae.machine import usable_cores
from lstm_ae.model.autoencoder import LSTMAutoencoder, Recipe
from lstm_ae.run.runtime import ThreadGovernor, auto_threads, check_machine, is_applied, keep_freed_memory
from lstm_ae.train.tasks import Task
from lstm_ae.train.trainer import effective_precision, resolve_device

log = logging.getLogger("lstm_ae")


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
        hoist_decoder_input=cfg_model.hoist_decoder_input,
        recipe=Recipe(
            center_input=cfg_model.center_input,
            reverse_output=cfg_model.reverse_output,
            decoder_h0=cfg_model.decoder_h0,
            orthogonal_init=cfg_model.orthogonal_init,
            forget_bias=cfg_model.forget_bias,
        ),
        **task.model_heads(data.n_classes),
    )


def check_folds(k: int, data: SequenceData) -> None:
    """Cross-validation re-partitions the train+validation groups (series, else items): at most one fold
    per group."""
    if k <= 1:
        return
    groups = len(np.unique(groups_of(concat([data.train, data.val]))))
    if k > groups:
        kind = "series" if data.train.names is not None else "items"
        raise ConfigError(
            f"dataset.cv_folds={k} is more than the {groups} train+validation {kind} to re-partition; "
            f"allowed: 2 to {groups}"
        )


def warn_if_it_can_copy(hidden: int, data: SequenceData) -> None:
    values = data.seq_len * data.input_size
    if hidden >= values:
        log.warning(
            "model.hidden=%d >= the %d values of an item (T=%d x %d feature(s)): the context can hold the whole "
            "input, so the model can learn the identity (the study asks for hidden < T); training anyway",
            hidden,
            values,
            data.seq_len,
            data.input_size,
        )


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def instantiate_node(node, **kwargs):
    """instantiate, but let our one-line errors through instead of Hydra's wrapper."""
    try:
        return build(node, **kwargs)
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
    scheduler_cfg: SchedulerConfig | None
    n_params: int
    pace: Any = None  # called between training steps: follows the machine's load (run.runtime.ThreadGovernor)


def scheduler_config(cfg: DictConfig) -> SchedulerConfig | None:
    """The checked scheduler section with its factory instantiated, as Trainer takes it; None without one."""
    scheduler = typed_scheduler(cfg.get("scheduler"))
    if scheduler.factory is None:
        return None
    scheduler.factory = instantiate_node(scheduler.factory)
    return scheduler


def apply_process_settings(process_cfg: ProcessConfig) -> ThreadGovernor | None:
    """The process section of a run: CPU threads (process.threads, else chosen from the cores this
    process may use, the parallel trials and other processes' load, and followed while training by the
    returned ThreadGovernor: lstm_ae.run.runtime) and the allocator (lstm_ae.run.runtime)."""
    threads, governor = process_cfg.threads, None
    if not threads:
        share = max(1, usable_cores() // parallel_trials())
        threads, note = auto_threads(parallel_trials())
        if note:
            log.warning(note)
        governor = ThreadGovernor(share)
    torch.set_num_threads(threads)
    if process_cfg.keep_freed_memory:
        keep_freed_memory()
    return governor


def prepare(cfg: DictConfig, data: SequenceData | None = None) -> Prepared:
    """Validate the config, load the data (or take the given data instead of cfg.dataset's), build the
    model; raise ConfigError/DataError on bad input."""
    model_cfg, trainer_cfg = validate(cfg)
    check_machine(model_cfg, typed_process(cfg.process))
    task: Task = instantiate_node(cfg.task)
    optimizer_factory = instantiate_node(cfg.optimizer)
    scheduler_cfg = scheduler_config(cfg)
    if data is None:
        data = instantiate_node(cfg.dataset)
    task.check_data(data)  # bad data is one line before the process settings say anything
    check_folds(cfg.dataset.get("cv_folds") or 1, data)
    pace = apply_process_settings(typed_process(cfg.process))
    device = resolve_device(trainer_cfg.device)
    seed_everything(trainer_cfg.seed)
    model = build_model(model_cfg, data, task)
    warn_if_it_can_copy(model_cfg.hidden, data)
    n_params = count_parameters(model)
    hoisted = model.hoists_decoder_input(device)  # builds the kernel now, not mid-run
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
        "hoisted" if hoisted else "nn.LSTM",
        task.name,
        device,
        torch.get_num_threads(),
        effective_precision(device, trainer_cfg.precision),
        is_applied(),
    )
    return Prepared(model_cfg, trainer_cfg, task, data, model, device, optimizer_factory, scheduler_cfg, n_params, pace)
