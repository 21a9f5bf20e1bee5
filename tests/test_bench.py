"""The benchmark harness (python -m benchmarks.bench): its FLOP count and a quick run on tiny workloads."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import bench
from lstm_ae.model.autoencoder import LSTMAutoencoder

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them


def _unrolled(model: LSTMAutoencoder, x: torch.Tensor, hoisted: bool = False):
    """The model's forward pass step by step with lstm_cell, so FlopCounterMode sees every matmul.
    hoisted: the decoder's input projection W_ih z computed once, as the hoisted decoder does."""

    def run(lstm, inputs):
        h = c = inputs.new_zeros(inputs.shape[0], lstm.hidden_size)
        outs = []
        for t in range(inputs.shape[1]):
            h, c = torch.lstm_cell(
                inputs[:, t], (h, c), lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0
            )
            outs.append(h)
        return torch.stack(outs, 1), h

    def run_hoisted(lstm, z, steps):
        gx = F.linear(z, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0)
        h = c = z.new_zeros(z.shape[0], lstm.hidden_size)
        outs = []
        for _ in range(steps):
            i, f, g, o = (gx + F.linear(h, lstm.weight_hh_l0)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs, 1)

    _, z = run(model.encoder, x)
    if hoisted:
        dec = run_hoisted(model.decoder, z, x.shape[1])
    else:
        dec, _ = run(model.decoder, z.unsqueeze(1).expand(-1, x.shape[1], -1))
    return torch.sigmoid(model.output(dec)), model.classifier(z)


def test_flop_count_matches_hand_count_and_flop_counter():
    # T=3, F=2, H=4, C=3 by hand: encoder 3*8*4*(2+4)=576, decoder 3*16*4*4=768, output 3*2*4*2=48, classifier 2*4*3=24
    assert bench.forward_flops(3, 2, 4, 1, 3) == {
        "encoder": 576,
        "decoder": 768,
        "output": 48,
        "classifier": 24,
        "total": 1416,
    }
    # backward = 2 x forward minus the gradients w.r.t. the data (3*8*4*2) and the zero h_0 of both LSTMs (2*8*4*4)
    assert bench.train_step_flops(3, 2, 4, 1, 3, batch_size=5) == (3 * 1416 - 192 - 256) * 5
    assert bench.lstm_flops(3, 2, 4, layers=2) == 3 * 8 * 4 * (2 + 4) + 3 * 8 * 4 * (4 + 4)

    # PyTorch's own counter on the same model, unrolled: forward, and forward + backward.
    torch.manual_seed(0)
    model = LSTMAutoencoder(2, 4, n_classes=3)
    x, y = torch.rand(5, 3, 2), torch.randint(0, 3, (5,))
    recon, logits = _unrolled(model, x)
    with torch.no_grad():
        out = model(x)
    assert torch.allclose(recon, out.recon, atol=1e-6) and torch.allclose(logits, out.logits, atol=1e-6)
    with FlopCounterMode(display=False) as fwd:
        _unrolled(model, x)
    assert fwd.get_total_flops() == 5 * 1416
    with FlopCounterMode(display=False) as step:
        recon, logits = _unrolled(model, x)
        (F.mse_loss(recon, x) + F.cross_entropy(logits, y)).backward()
    assert step.get_total_flops() == bench.train_step_flops(3, 2, 4, 1, 3, batch_size=5)


def test_flop_count_of_the_hoisted_decoder():
    """Hoisted, the decoder projects z once: 2*4H*H + T*2*4H*H = 32*4 + 3*128 = 512 instead of 768 (T=3,
    H=4). Checked against PyTorch's counter on the hoisted computation, forward and forward + backward."""
    assert bench.forward_flops(3, 2, 4, 1, 3, hoisted=True)["decoder"] == 512
    assert bench.forward_flops(3, 2, 4, 1, 3, hoisted=True)["total"] == 1416 - 768 + 512
    torch.manual_seed(0)
    model = LSTMAutoencoder(2, 4, n_classes=3)
    x, y = torch.rand(5, 3, 2), torch.randint(0, 3, (5,))
    with torch.no_grad():
        torch.testing.assert_close(_unrolled(model, x, hoisted=True)[0], model(x).recon)
    with FlopCounterMode(display=False) as fwd:
        _unrolled(model, x, hoisted=True)
    assert fwd.get_total_flops() == 5 * bench.forward_flops(3, 2, 4, 1, 3, hoisted=True)["total"]
    with FlopCounterMode(display=False) as step:
        recon, logits = _unrolled(model, x, hoisted=True)
        (F.mse_loss(recon, x) + F.cross_entropy(logits, y)).backward()
    assert step.get_total_flops() == bench.train_step_flops(3, 2, 4, 1, 3, batch_size=5, hoisted=True)


def test_quick_run_on_tiny_workloads(tmp_path, monkeypatch):
    """The whole harness (both sides, peaks, table, JSON/CSV) on two tiny workloads: reconstruct fp32 and
    our classify preset (bf16 autocast, one-cycle schedule) against the course-style reference."""
    monkeypatch.setitem(
        bench.WORKLOADS,
        "tiny",
        bench.Workload("tiny", 6, 1, ("dataset=toy", "model.hidden=8"), (3, 200, 2), (3, 200, 2)),
    )
    monkeypatch.setitem(
        bench.WORKLOADS,
        "tiny_cls",
        bench.Workload(
            "tiny_cls",
            5,
            4,
            ("experiment=mnist_classify", "model.hidden=8", "trainer.eval_batch_size=64"),
            (2, 100, 2),
            (2, 100, 2),
            warmup=1,
        ),
    )
    out = tmp_path / "bench.json"
    args = bench.parse_args(
        ["--quick", "--workloads", "tiny,tiny_cls", "--peak-n", "256", "--threads", "1", "--out", str(out)]
    )
    from lstm_ae.model import recurrence
    from lstm_ae.train.trainer import resolve_device

    folds_here = recurrence.available(resolve_device("auto"))  # the harness's device: CUDA when present
    threads = torch.get_num_threads()
    try:
        result = bench.run(args)
    finally:
        torch.set_num_threads(threads)

    rows = {(r["workload"], r["impl"]): r for r in result["throughput"]}
    assert set(rows) == {(w, i) for w in ("tiny", "tiny_cls") for i in ("ours", "reference")}
    from lstm_ae.train.trainer import effective_precision

    expected = effective_precision(resolve_device("auto"), "bf16")  # the preset's bf16 where the CPU runs it
    assert rows["tiny_cls", "ours"]["precision"] == expected and rows["tiny_cls", "ours"]["batch_size"] == 256
    assert rows["tiny_cls", "reference"]["precision"] == "fp32" and rows["tiny_cls", "reference"]["batch_size"] == 64
    for r in rows.values():
        assert len(r["train_sps"]["runs"]) == 2
        for value in (
            r["train_sps"]["median"],
            r["eval_sps"]["median"],
            r["train_gflops"],
            r["train_frac_peak"],
            r["peak_rss_mb"],
        ):
            assert math.isfinite(value) and value > 0, r
        hoisted = r["hoisted_decoder"]
        # ours folds the decoder where the kernel runs (the CPU); the reference never does
        assert hoisted == (r["impl"] == "ours" and folds_here)
        assert r["train_flops_per_sample"] == bench.train_flops(
            r["seq_len"], r["features"], 8, 1, r["n_classes"], hoisted=hoisted
        )
    for w in ("tiny", "tiny_cls"):
        assert rows[w, "ours"]["params"] == rows[w, "reference"]["params"]
        assert math.isfinite(rows[w, "ours"]["train_ratio"]) and rows[w, "ours"]["train_ratio"] > 0
    assert result["peak"]["fp32"]["gflops"] > 0
    assert ("bf16" in result["peak"]) == (expected == "bf16")  # measured only where runs train in bf16
    if "bf16" in result["peak"]:
        assert result["peak"]["bf16"]["gflops"] > 0

    saved = json.loads(out.read_text())
    assert len(saved["throughput"]) == 4 and saved["machine"]["threads"] == 1
    with open(out.with_suffix(".csv")) as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 4 and float(table[0]["train_sps_median"]) > 0
