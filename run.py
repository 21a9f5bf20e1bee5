"""Entry point: python run.py [overrides]  |  python run.py -m [sweep overrides]  |  --help."""

import sys

import hydra
from omegaconf import DictConfig

from lstm_ae.apps.preflight import (
    check_group_choices,
    check_sweeper_syntax,
    normalize_overrides,
    preflight_run,
    preflight_sweep,
)
from lstm_ae.config import HYDRA_BASE

CONF_DIR = "conf"


@hydra.main(**HYDRA_BASE, config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float:
    from lstm_ae.run.runtime import set_wait_policy

    set_wait_policy()  # before torch loads (OpenMP reads it once)
    from lstm_ae.run.experiment import run_experiment  # heavy imports after Hydra has parsed --help etc.

    return run_experiment(cfg)


if __name__ == "__main__":
    sys.argv[1:] = normalize_overrides(sys.argv[1:])
    check_group_choices(sys.argv[1:])
    check_sweeper_syntax(sys.argv[1:])
    if {"-m", "--multirun"} & set(sys.argv[1:]) and not any(
        a.startswith(("hydra.searchpath", "-c", "--c")) for a in sys.argv[1:]
    ):
        preflight_sweep(sys.argv[1:])
    elif not {"-m", "--multirun"} & set(sys.argv[1:]):
        preflight_run(sys.argv[1:])
    main()
