"""Options of the prediction task: the residual head (forecast = last value + change), the linear
skip, the weight of the last (honest) step, and the honest per-window error `next`."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lstm_ae.errors import ConfigError
from lstm_ae.model.autoencoder import LSTMAutoencoder
from lstm_ae.train.tasks import PredictTask


def _model(task: PredictTask, hidden: int = 8) -> LSTMAutoencoder:
    torch.manual_seed(0)
    return LSTMAutoencoder(1, hidden, **task.model_heads(0))


def test_an_untrained_residual_head_forecasts_persistence():
    task = PredictTask(residual=True)
    x = torch.rand(5, 12, 1)
    out = _model(task)(x)
    torch.testing.assert_close(out.pred, x)  # x̂_{t+1} = x_t at every step
    plain = _model(PredictTask())(x).pred
    assert ((plain > 0) & (plain < 1)).all() and not torch.allclose(plain, x)  # sigmoid head: not persistence


def test_linear_skip_is_an_ar1_on_differences():
    task = PredictTask(residual=True, linear_skip=True)
    model = _model(task)
    with torch.no_grad():
        model.skip.fill_(0.3)
    x = torch.rand(4, 9, 1)
    pred = model(x).pred
    torch.testing.assert_close(pred[:, 1:], x[:, 1:] + 0.3 * (x[:, 1:] - x[:, :-1]))
    torch.testing.assert_close(pred[:, 0], x[:, 0])  # no earlier value: no change term
    with pytest.raises(ConfigError, match="task.linear_skip=true needs task.residual=true"):
        PredictTask(linear_skip=True)


@pytest.mark.parametrize("last_weight", [1.0, 10.0, 0.0])
def test_last_weight_and_the_honest_part(last_weight):
    task = PredictTask(last_weight=last_weight)
    model = _model(task)
    x = torch.rand(6, 11, 1)
    loss, parts = task.loss(model, x, None)
    inp, target = x[:, :-1], x[:, 1:]
    out = model(inp)
    per_step = ((out.pred - target) ** 2).mean(dim=(0, 2))
    weights = torch.ones(10)
    weights[-1] = last_weight
    expected_pred = (weights * per_step).sum() / weights.sum()
    torch.testing.assert_close(parts["pred"], expected_pred)
    torch.testing.assert_close(parts["next"], per_step[-1])  # the last step alone
    torch.testing.assert_close(loss, F.mse_loss(out.recon, inp) + expected_pred)
    assert task.parts == ("recon", "pred", "next")
    with pytest.raises(ConfigError, match="task.last_weight"):
        PredictTask(last_weight=-1.0)
