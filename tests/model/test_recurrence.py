"""lstm_ae.model.recurrence: the C++ recurrence kernel computes what nn.LSTM computes, values and gradients.

The kernel is built on first use (~15 s). Without a C++ compiler these tests skip, except in CI
(LSTM_AE_REQUIRE_KERNEL=1, set by .ci/run), where a kernel that does not build fails them.
"""

from __future__ import annotations

import logging
import os
import shutil

import pytest
import torch
from torch import nn

from lstm_ae.model import recurrence
from lstm_ae.model.autoencoder import LSTMAutoencoder
from lstm_ae.train.tasks import ClassifyTask

CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def kernel():
    if shutil.which(os.environ.get("CXX", "c++")) is None and os.environ.get("LSTM_AE_REQUIRE_KERNEL") != "1":
        pytest.skip("no C++ compiler: the decoder falls back to nn.LSTM")
    error = recurrence.load_kernel()
    assert error is None, error


def _grads(module: nn.Module, *extra: torch.Tensor) -> list[torch.Tensor]:
    return [p.grad.clone() for p in module.parameters()] + [t.grad.clone() for t in extra]


def _zero(module: nn.Module, *extra: torch.Tensor) -> None:
    for t in [*module.parameters(), *extra]:
        t.grad = None


@pytest.mark.parametrize("layers", [1, 2])
def test_constant_input_matches_nn_lstm_in_fp32(layers):
    """The decoder's case: the same z at each of T steps. Outputs, last states and the gradients of
    every weight and of z agree with nn.LSTM fed the expanded z, to float32 rounding."""
    torch.manual_seed(0)
    lstm = nn.LSTM(6, 10, layers, batch_first=True)
    z = torch.randn(5, 6, requires_grad=True)
    weights = torch.randn(5, 9, 10)  # a loss that weights every output differently

    def run(fn):
        _zero(lstm, z)
        out, (h, c) = fn()
        ((out * weights).sum() + h.sum() * 0.5 + c.pow(2).sum()).backward()
        return out.detach(), h.detach(), c.detach(), _grads(lstm, z)

    ref = run(lambda: lstm(z.unsqueeze(1).expand(-1, 9, -1)))
    got = run(lambda: recurrence.lstm(lstm, z, steps=9))
    for a, b in zip(ref[:3], got[:3]):
        torch.testing.assert_close(b, a, atol=2e-6, rtol=1e-5)
    for a, b in zip(ref[3], got[3]):
        torch.testing.assert_close(b, a, atol=2e-5, rtol=1e-4)


def test_sequence_input_matches_nn_lstm_in_fp32():
    torch.manual_seed(1)
    lstm = nn.LSTM(3, 8, batch_first=True)
    x = torch.randn(4, 11, 3, requires_grad=True)

    def run(fn):
        _zero(lstm, x)
        out, (h, _) = fn()
        (out.sin().sum() + h.sum()).backward()
        return out.detach(), _grads(lstm, x)

    ref_out, ref_grads = run(lambda: lstm(x))
    out, grads = run(lambda: recurrence.lstm(lstm, x))
    torch.testing.assert_close(out, ref_out, atol=2e-6, rtol=1e-5)
    for a, b in zip(ref_grads, grads):
        torch.testing.assert_close(b, a, atol=2e-5, rtol=1e-4)


def test_bf16_autocast_stays_close_to_nn_lstm():
    """Under bf16 autocast the products run in bf16 (as oneDNN's do): outputs within bf16 rounding
    of autocast nn.LSTM's, weight gradients pointing the same way (cosine > 0.999)."""
    from lstm_ae.train.trainer import effective_precision

    if effective_precision(CPU, "bf16") != "bf16":
        pytest.skip("this CPU runs no LSTM in bf16 (oneDNN needs AVX-512): runs fall back to fp32 here")
    torch.manual_seed(2)
    lstm = nn.LSTM(128, 128, batch_first=True)
    z = torch.randn(64, 128) * 0.5

    def run(fn):
        _zero(lstm)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fn()
        assert out.dtype == torch.bfloat16  # what autocast's nn.LSTM returns too
        out.float().square().mean().backward()
        return out.float().detach(), _grads(lstm)

    ref_out, ref_grads = run(lambda: lstm(z.unsqueeze(1).expand(-1, 28, -1))[0])
    out, grads = run(lambda: recurrence.lstm(lstm, z, steps=28)[0])
    assert (out - ref_out).abs().max() < 0.03
    for a, b in zip(ref_grads, grads):
        assert nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0) > 0.999


def test_nan_is_not_hidden():
    """A NaN weight must reach the output (the gate arithmetic clamps, but never swallows NaN), so a
    diverged run is still detected."""
    lstm = nn.LSTM(4, 6, batch_first=True)
    with torch.no_grad():
        lstm.weight_hh_l0[0, 0] = float("nan")
    out, _ = recurrence.lstm(lstm, torch.randn(2, 4), steps=3)
    assert torch.isnan(out).any()


def test_folded_model_equals_plain_model_and_shares_checkpoints():
    """LSTMAutoencoder with hoist_decoder_input: same parameters (a checkpoint loads either way), same
    outputs and training gradients as the plain model, in training and in evaluation."""
    torch.manual_seed(3)
    plain = LSTMAutoencoder(28, 32, n_classes=10, hoist_decoder_input=False)
    hoisted = LSTMAutoencoder(28, 32, n_classes=10, hoist_decoder_input=True)
    hoisted.load_state_dict(plain.state_dict())
    x, y = torch.rand(16, 28, 28), torch.randint(0, 10, (16,))
    task = ClassifyTask()
    for model in (plain, hoisted):
        loss, _ = task.loss(model, x, y)
        loss.backward()
    for (name, a), b in zip(plain.named_parameters(), hoisted.parameters()):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-4, msg=name)
    with torch.inference_mode():
        plain.eval(), hoisted.eval()
        torch.testing.assert_close(hoisted(x).recon, plain(x).recon, atol=1e-6, rtol=1e-5)


def test_without_the_kernel_the_decoder_falls_back_with_one_warning(monkeypatch, caplog):
    monkeypatch.setitem(recurrence._state, "error", "LSTM recurrence kernel unavailable (no compiler)")
    monkeypatch.delitem(recurrence._state, "warned", raising=False)
    torch.manual_seed(4)
    model = LSTMAutoencoder(1, 8, hoist_decoder_input=True)
    x = torch.rand(3, 7, 1)
    with caplog.at_level(logging.WARNING, logger="lstm_ae.model.recurrence"):
        first, second = model(x).recon, model(x).recon
    warnings = [r.getMessage() for r in caplog.records if "kernel unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "plain nn.LSTM" in warnings[0]
    torch.testing.assert_close(first, second)
    assert not recurrence.available(torch.device("meta"))  # and never off the CPU


@pytest.mark.slow
def test_runs_fold_by_default_and_train_the_same_either_way(tmp_path):
    """End to end through run.py: the log says which decoder ran, and one epoch of the toy task (fp32,
    same seed) ends at the same validation loss with the hoisted decoder as with nn.LSTM."""
    import json

    from conftest import run_cli
    from lstm_ae.train.trainer import resolve_device

    folds_here = recurrence.available(resolve_device("auto"))  # runs train on CUDA when present: no folding there
    losses = {}
    for setting, logged in (
        ("true", "decoder=hoisted" if folds_here else "decoder=nn.LSTM"),
        ("false", "decoder=nn.LSTM"),
    ):
        run_dir = tmp_path / setting
        proc = run_cli(
            "dataset=toy", "dataset.size=600", "model.hidden=16", "trainer.epochs=1",
            f"model.hoist_decoder_input={setting}", f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=1800,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert logged in (run_dir / "run.log").read_text()
        losses[setting] = json.loads((run_dir / "result.json").read_text())["objective"]
    assert losses["true"] == pytest.approx(losses["false"], rel=1e-4)
