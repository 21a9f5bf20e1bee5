"""Hydra's entry point for the lstm_ae Optuna sweeper (Hydra's public Sweeper plugin API).

Hydra imports every module under hydra_plugins/ at start-up, in single runs too; this one stays
light and imports Optuna (about 2 s) only when a sweep starts.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class StopsWithSweep:
    """The task function, run so that a job in a child process of the sweep stops when the sweep process
    dies (lstm_ae.sweep.worker). Pickled to joblib/submitit workers with the task it wraps."""

    def __init__(self, task_function: TaskFunction, sweep_pid: int) -> None:
        functools.update_wrapper(self, task_function)
        self.task_function = task_function
        self.sweep_pid = sweep_pid

    def __call__(self, cfg: DictConfig) -> Any:
        from lstm_ae.sweep.worker import stop_with_sweep

        stop_with_sweep(self.sweep_pid)
        return self.task_function(cfg)


class LstmAeOptunaSweeper(Sweeper):
    """Takes hydra-optuna-sweeper's settings plus pruner, grid_for_choices, max_failure_rate and heartbeats."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.config: DictConfig | None = None
        self.launcher = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=StopsWithSweep(task_function, os.getpid()), config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from lstm_ae.sweep.launch import LaunchConfigError
        from lstm_ae.sweep.optuna_sweep import IncompleteSweep, OptunaSweep, StorageFailure, SweepSettings
        from lstm_ae.sweep.space import SearchSpaceError
        from lstm_ae.sweep.storage import StorageConfigError

        assert self.config is not None and self.launcher is not None
        try:
            return OptunaSweep(SweepSettings(**self.settings), self.config, self.launcher).sweep(arguments)
        except (SearchSpaceError, StorageConfigError, LaunchConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except IncompleteSweep as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(3) from None
        except StorageFailure as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(4) from None
        except KeyboardInterrupt:
            print(
                f"\ninterrupted: finished trials are kept in the study; run the same command again to continue "
                f"({self.config.hydra.sweep.dir})",
                file=sys.stderr,
            )
            raise SystemExit(130) from None
