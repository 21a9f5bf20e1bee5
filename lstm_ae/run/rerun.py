"""A run folder is continued only with the settings it was trained with.

Before Hydra writes anything into the folder (apps.preflight): a folder that has trained
(files.TRAINING_FILES) and whose `.hydra/config.yaml` differs in a setting that shapes the result
(lstm_ae.fingerprint) is refused in one line naming the keys, and nothing in it changes. With
trainer.resume=false its files are set aside in previous/<time>/ and the run starts over in place."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lstm_ae.config import describe, differences, settings
from lstm_ae.errors import ConfigError
from lstm_ae.files import HYDRA_CONFIG, PREVIOUS, RESULT, TRAINING_FILES


def has_trained(run_dir: Path) -> bool:
    return any((Path(run_dir) / name).exists() for name in TRAINING_FILES)


def check_continuation(cfg: DictConfig, run_dir: Path) -> None:
    """Raise a one-line ConfigError when run_dir holds a run trained with other settings than cfg's."""
    run_dir = Path(run_dir)
    saved = run_dir / HYDRA_CONFIG
    if not has_trained(run_dir) or not saved.exists():
        return
    diffs = differences(settings(OmegaConf.load(saved)), settings(cfg))
    if diffs:
        raise ConfigError(
            f"{run_dir} holds a run trained with other settings ({describe(diffs)}); nothing was changed: "
            "use a new folder (hydra.run.dir=...), or trainer.resume=false to start over in it "
            f"(its files are kept in {PREVIOUS}/)"
        )


def set_aside(run_dir: Path) -> Path:
    """Move everything in run_dir except earlier set-aside runs into run_dir/previous/<time>/."""
    run_dir = Path(run_dir)
    dest = run_dir / PREVIOUS / time.strftime("%Y-%m-%d_%H-%M-%S")
    n = 1
    while dest.exists():
        dest = dest.with_name(f"{dest.name.split('.')[0]}.{n}")
        n += 1
    dest.mkdir(parents=True)
    for entry in run_dir.iterdir():
        if entry.name != PREVIOUS:
            shutil.move(str(entry), dest / entry.name)
    return dest


def open_run_folder(cfg: DictConfig, run_dir: Path) -> str:
    """Check (or, with trainer.resume=false, clear) the folder a single run is about to write; return a
    line to log ("" when there is nothing to say). Creates the folder, so an unusable path fails here."""
    run_dir = Path(run_dir)
    note = ""
    if has_trained(run_dir):
        if cfg.trainer.get("resume", True):
            check_continuation(cfg, run_dir)
        else:
            note = f"trainer.resume=false: the earlier run's files are in {set_aside(run_dir)}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"hydra.run.dir={run_dir}: cannot create the folder ({exc.strerror})") from None
    if not os.access(run_dir, os.W_OK):
        raise ConfigError(f"hydra.run.dir={run_dir}: the folder is not writable")
    return note


def remove_failed_start(run_dir: Path, log_name: str) -> bool:
    """A single run refused before training (bad data, a model the data cannot take) leaves no folder
    behind: remove run_dir when it holds only what Hydra wrote at the start (.hydra/, the log) and the
    refusal's result.json. True when removed."""
    run_dir = Path(run_dir)
    start_files = {Path(HYDRA_CONFIG).parent.name, log_name, RESULT}
    if not run_dir.is_dir() or any(e.name not in start_files for e in run_dir.iterdir()):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return True
