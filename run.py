"""Entry point: python run.py [overrides]  |  python run.py -m [sweep overrides]  |  --help."""

import sys

import hydra
from omegaconf import DictConfig

from lstm_ae.cli import check_group_choices, normalize_overrides

CONF_DIR = "conf"


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float:
    from lstm_ae.app import run_experiment  # heavy imports after Hydra has parsed --help etc.

    return run_experiment(cfg)


if __name__ == "__main__":
    sys.argv[1:] = normalize_overrides(sys.argv[1:])
    check_group_choices(sys.argv[1:])
    main()
