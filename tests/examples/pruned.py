"""A plain Hydra app that reports a loss per epoch through lstm_ae.sweep.pruning.current_trial:
loss_t = (x - 1)^2 + 1 / (t + 1), so trials far from x = 1 are worse at every step."""

import hydra
from omegaconf import DictConfig

from lstm_ae.config import HYDRA_BASE
from lstm_ae.sweep.pruning import current_trial


@hydra.main(**HYDRA_BASE, config_path="conf", config_name="pruned")
def main(cfg: DictConfig) -> float:
    trial = current_trial(cfg)
    loss = float("inf")
    for epoch in range(cfg.epochs):
        loss = (cfg.x - 1) ** 2 + 1 / (epoch + 1)
        trial.report(loss, epoch)
    return loss


if __name__ == "__main__":
    main()
