"""Tasks: what the network is asked to do, as losses over a batch.

A task turns a model output and a batch into a loss and named loss parts. It knows
nothing of a particular dataset: it needs only x (B, T, F) and, to classify, labels y.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from lstm_ae.errors import ConfigError
from lstm_ae.model.autoencoder import LSTMAutoencoder


@dataclass
class Task:
    """Reconstruction: loss = MSE(x̃, x)."""

    name: str = "reconstruct"
    objective: str = "val_loss"
    direction: str = "minimize"
    parts: tuple[str, ...] = ("recon",)  # loss parts every batch reports

    def __post_init__(self) -> None:
        allowed = [f"val_{p}" for p in ("loss", *self.parts)]
        if self.objective not in allowed:
            raise ConfigError(f"task.objective must be one of {', '.join(allowed)}; got {self.objective!r}")
        if self.direction not in ("minimize", "maximize"):
            raise ConfigError(f"task.direction must be minimize or maximize; got {self.direction!r}")

    def is_better(self, value: float, best: float | None, min_delta: float = 0.0) -> bool:
        """Whether a validation objective improves on the best so far, in this task's direction."""
        if best is None:
            return True
        return value < best - min_delta if self.direction == "minimize" else value > best + min_delta

    def model_heads(self, n_classes: int) -> dict:
        """Extra keyword arguments for the model this task needs (heads)."""
        return {}

    def check_data(self, data) -> None:
        """Raise a ConfigError when the data cannot serve this task."""

    def extra_test_metrics(self, model: LSTMAutoencoder, data, device, out_dir) -> dict:
        """Test evaluation beyond the mean losses: what the data declare (units, series, named items;
        lstm_ae.data.base) adds errors in real units, splits.json and the figure of chosen series
        (lstm_ae.evaluation.forecast.data_metrics). Nothing for data that declare none of them."""
        if data.units is None and data.series is None and data.test.names is None:
            return {}
        from lstm_ae.evaluation.forecast import data_metrics

        return data_metrics(self, model, data, device, out_dir)

    def split_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Model input and, for prediction, next-step targets."""
        return x, None

    def loss(
        self, model: LSTMAutoencoder, x: torch.Tensor, y: torch.Tensor | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        inp, _ = self.split_batch(x)
        out = model(inp)
        recon = F.mse_loss(out.recon.float(), inp)
        return recon, {"recon": recon.detach()}


@dataclass
class ClassifyTask(Task):
    """Reconstruction + classification: loss = MSE(x̃, x) + w · CE(logits, y)."""

    name: str = "classify"
    parts: tuple[str, ...] = ("recon", "ce", "acc")
    ce_weight: float = 1.0
    class_from: str = "z"  # "z" (context) or "decoder" (the assignment's ỹ = U h̃_T)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ce_weight < 0:
            raise ConfigError(f"task.ce_weight must be >= 0, got {self.ce_weight}")

    def model_heads(self, n_classes: int) -> dict:
        return {"n_classes": n_classes, "class_from": self.class_from}

    def check_data(self, data) -> None:
        if data.n_classes <= 0 or data.train.y is None:
            raise ConfigError(f"task=classify needs labelled data; dataset={data.name} has no class labels")

    def loss(self, model, x, y):
        out = model(x)
        recon = F.mse_loss(out.recon.float(), x)
        ce = F.cross_entropy(out.logits.float(), y)
        acc = (out.logits.argmax(-1) == y).float().mean()
        return recon + self.ce_weight * ce, {"recon": recon.detach(), "ce": ce.detach(), "acc": acc}


@dataclass
class PredictTask(Task):
    """Reconstruction + next-step prediction on x_1..x_{T-1} with targets x_2..x_T:
    loss = MSE(x̃, x_{1:T-1}) + w · MSE(ỹ, x_{2:T}).

    Only the last step's prediction is a forecast (the encoder has read x_{t+1} before ỹ_t for
    t < T-1); last_weight weights that step's error relative to each earlier one in the prediction
    MSE (1: plain mean). residual: the head predicts the change, ỹ_t = x_t + Δ_t, starting at
    persistence. The loss part `next` is the last step's MSE alone: the honest one-step error of
    each window, so val_next can select the checkpoint (task.objective=val_next)."""

    name: str = "predict"
    parts: tuple[str, ...] = ("recon", "pred", "next")
    pred_weight: float = 1.0
    forecast_every: int = 1  # score the one-step forecast of every k-th day of each test series
    multistep_context: int | None = (
        None  # known values before multi-step forecasts; None: see lstm_ae.evaluation.forecast
    )
    last_weight: float = 1.0  # weight of the last (honest) step in the prediction MSE, relative to each earlier step
    residual: bool = False  # the head predicts the change from the last known value
    linear_skip: bool = False  # with residual: + a learned a (x_t - x_{t-1}) (a linear AR(1) on differences)
    references: str | None = None  # a references.json to score against; None: fit on the training split

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.last_weight < 0:
            raise ConfigError(f"task.last_weight must be >= 0, got {self.last_weight}")
        if not isinstance(self.residual, bool):
            raise ConfigError(f"task.residual must be true or false, got {self.residual!r}")
        if self.linear_skip is not False and (self.linear_skip is not True or not self.residual):
            raise ConfigError(f"task.linear_skip=true needs task.residual=true; got linear_skip={self.linear_skip!r}")
        if self.references is not None and not Path(self.references).is_file():
            raise ConfigError(f"task.references: no such file {self.references} (null: fit on the training split)")
        if self.pred_weight < 0:
            raise ConfigError(f"task.pred_weight must be >= 0, got {self.pred_weight}")
        if not isinstance(self.forecast_every, int) or self.forecast_every < 1:
            raise ConfigError(f"task.forecast_every must be an integer >= 1, got {self.forecast_every}")
        if self.multistep_context is not None and (
            not isinstance(self.multistep_context, int) or self.multistep_context < 1
        ):
            raise ConfigError(f"task.multistep_context must be null or an integer >= 1, got {self.multistep_context}")

    def model_heads(self, n_classes: int) -> dict:
        return {"predict": True, "residual_predict": self.residual, "linear_skip": self.linear_skip}

    def check_data(self, data) -> None:
        if data.seq_len < 3:
            raise ConfigError(f"task=predict needs sequences of length >= 3, dataset={data.name} has {data.seq_len}")
        if data.input_size != 1:  # the forecasts and their references are of one value per step
            raise ConfigError(
                f"task=predict forecasts one value per step; dataset={data.name} has {data.input_size} features "
                "per step (allowed: toy, snp500, mnist with dataset.input=pixel, or a dataset of one feature)"
            )

    def split_batch(self, x):
        return x[:, :-1], x[:, 1:]

    def extra_test_metrics(self, model, data, device, out_dir) -> dict:
        """Honest one-step and multi-step forecasts of the test data vs persistence (lstm_ae.evaluation.forecast)."""
        from lstm_ae.evaluation.forecast import forecast_metrics

        return forecast_metrics(self, model, data, device, out_dir)

    def loss(self, model, x, y):
        inp, target = self.split_batch(x)
        out = model(inp)
        recon = F.mse_loss(out.recon.float(), inp)
        if self.last_weight == 1.0:
            pred = F.mse_loss(out.pred.float(), target)
        else:
            per_step = ((out.pred.float() - target) ** 2).mean(dim=(0, 2))  # (T-1,)
            weights = torch.ones_like(per_step)
            weights[-1] = self.last_weight
            pred = (weights * per_step).sum() / weights.sum()
        nxt = F.mse_loss(out.pred[:, -1].detach().float(), target[:, -1])
        return recon + self.pred_weight * pred, {"recon": recon.detach(), "pred": pred.detach(), "next": nxt}
