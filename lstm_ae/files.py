"""What a run folder and a sweep folder hold: the file names, a run's status, result.json read and written.

Every module that reads or writes these files takes their names from here, so a name is spelled once."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from lstm_ae.artifacts import write_json

# a run folder
RESULT = "result.json"  # status, reason, objective, test metrics, references, wall time
METRICS = "metrics.csv"  # one row per epoch
BEST_CKPT = "best.pt"  # weights of the best validation epoch
LAST_CKPT = "last.pt"  # full training state after the last epoch (resume)
SPLITS = "splits.json"  # which named series went to which split (data that name their items' series)
REFERENCES = "references.json"  # forecast references fitted at training time (task=predict)
HYDRA_CONFIG = ".hydra/config.yaml"  # the composed config, as Hydra writes it
PREVIOUS = "previous"  # earlier runs' files, set aside by a rerun with trainer.resume=false
TRAINING_FILES = (LAST_CKPT, BEST_CKPT, METRICS)  # a folder holding one of these has trained
# a sweep folder
SUMMARY_MD = "summary.md"
SUMMARY_CSV = "summary.csv"
CONFIRM_JSON = "confirm.json"  # the best configurations rerun with more seeds (hydra.sweeper.confirm_seeds)
CONFIRM_DIR = "confirm"  # their run folders: confirm/<trial>_seed<seed>/


class RunStatus(StrEnum):
    """How a run ended, as result.json and the sweep summary say it."""

    COMPLETED = "completed"  # trained every epoch
    EARLY_STOPPED = "early_stopped"  # stopped by early stopping or the time budget; its best epoch counts
    DIVERGED = "diverged"  # a loss, gradient or step became NaN/infinite: stopped at once
    PRUNED = "pruned"  # stopped by the sweeper's pruner
    FAILED = "failed"  # bad input or an error; the reason says which
    PARTIAL = "partial"  # cross-validation: some folds finished, others failed
    RUNNING = "running"  # a sweep trial still training (no result.json yet)

    @property
    def finished(self) -> bool:
        """Whether the run ended with a usable objective and test metrics."""
        return self in (RunStatus.COMPLETED, RunStatus.EARLY_STOPPED)


FINISHED = tuple(s for s in RunStatus if s.finished)  # the statuses whose objective and test metrics count


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file's object; {} when the file is missing or unreadable (a run that never wrote it)."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def read_result(run_dir: Path) -> dict[str, Any]:
    """A run folder's result.json ({} when it has none)."""
    return read_json(Path(run_dir) / RESULT)


def write_result(run_dir: Path, result: dict[str, Any]) -> None:
    """Write a run folder's result.json atomically."""
    write_json(Path(run_dir) / RESULT, result)
