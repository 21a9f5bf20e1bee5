"""A plain Hydra app, written as for hydra-optuna-sweeper: its task returns the objective and writes
nothing else. SPHERE_OBJECTIVES=2 returns two objectives; SPHERE_FAIL_AT raises when x is above it."""

import os

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="sphere")
def sphere(cfg: DictConfig):
    x, y = float(cfg.x), float(cfg.y)
    if "SPHERE_FAIL_AT" in os.environ and x > float(os.environ["SPHERE_FAIL_AT"]):
        raise ValueError(f"x={x} is out of range")
    if os.environ.get("SPHERE_OBJECTIVES") == "2":
        return [x**2 + y**2, (x - 2) ** 2 + (y - 2) ** 2]
    return x**2 + y**2


if __name__ == "__main__":
    sphere()
