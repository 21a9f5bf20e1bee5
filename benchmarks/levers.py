"""Micro-benchmarks behind docs/speed.md's "what was tried" list: python -m benchmarks.levers WHAT

  decoder  the decoder fed z at every step: oneDNN's fused nn.LSTM against computing W_ih z once, with
           the C++ recurrence kernel (lstm_ae.model.recurrence, what model.hoist_decoder_input runs) and with a
           hand-written loop (eager, and with --compile also torch.compile'd), forward + backward
  encoder  the encoder (28 features in, a sequence): nn.LSTM against the same C++ kernel, which
           then has nothing to skip, forward + backward
  batch    MNIST-row training steps of LSTMAutoencoder + ClassifyTask per batch size and precision,
           interleaved round by round so that drifting load hits every setting alike
  profile  torch.profiler table of MNIST-row training steps (where a step's time goes)

Synthetic tensors of the workload's shape; the cost of dense LSTM arithmetic does not depend on values.
These are the throw-away measurements kept runnable, not part of the harness (benchmarks.bench).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from lstm_ae.model import recurrence
from lstm_ae.model.autoencoder import LSTMAutoencoder
from lstm_ae.run.runtime import keep_freed_memory
from lstm_ae.train.tasks import ClassifyTask

ROW = {"seq_len": 28, "features": 28, "hidden": 128, "n_classes": 10}


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up: primitive creation, first-touch allocations
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def hoisted_decoder(z, w_ih, w_hh, b_ih, b_hh, steps: int) -> torch.Tensor:
    """The decoder LSTM with its constant input projected once: gates = W_ih z + b + W_hh h_{t-1}."""
    gx = nn.functional.linear(z, w_ih, b_ih + b_hh)
    h = z.new_zeros(z.shape[0], w_hh.shape[1])
    c = torch.zeros_like(h)
    outputs = []
    for _ in range(steps):
        i, f, g, o = (gx + h @ w_hh.t()).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs, 1)


def bench_decoder(args) -> None:
    steps, hidden = args.steps, ROW["hidden"]
    decoder = nn.LSTM(hidden, hidden, batch_first=True)
    z = torch.randn(args.batch, hidden, requires_grad=True)
    weights = (decoder.weight_ih_l0, decoder.weight_hh_l0, decoder.bias_ih_l0, decoder.bias_hh_l0)
    variants = {
        "fused nn.LSTM": lambda: decoder(z.unsqueeze(1).expand(-1, steps, -1))[0],
        "hoisted loop, eager": lambda: hoisted_decoder(z, *weights, steps),
    }
    if recurrence.available(torch.device("cpu")):
        variants["hoisted, C++ kernel"] = lambda: recurrence.lstm(decoder, z, steps=steps)[0]
    if args.compile:
        compiled = torch.compile(hoisted_decoder)  # Dynamo does not trace nn.LSTM itself
        t0 = time.perf_counter()
        compiled(z, *weights, steps).sum().backward()
        print(f"torch.compile of the hoisted loop: {time.perf_counter() - t0:.1f} s")
        variants["hoisted loop, compiled"] = lambda: compiled(z, *weights, steps)
    _compare(variants, "fused nn.LSTM", args)


def bench_encoder(args) -> None:
    """The same kernel on a sequence input (all W_ih x_t as one product first), as the encoder would use it."""
    encoder = nn.LSTM(ROW["features"], ROW["hidden"], batch_first=True)
    x = torch.rand(args.batch, args.steps, ROW["features"])
    variants = {"fused nn.LSTM": lambda: encoder(x)[1][0]}
    if recurrence.available(torch.device("cpu")):
        variants["C++ kernel"] = lambda: recurrence.lstm(encoder, x)[1][0]
    _compare(variants, "fused nn.LSTM", args)


def _compare(variants: dict, baseline: str, args) -> None:
    """Each variant's largest difference from the baseline, then its fwd+bwd time in fp32 and bf16."""
    with torch.no_grad():
        for name in [v for v in variants if v != baseline]:
            diff = (variants[baseline]() - variants[name]()).abs().max().item()
            print(f"max |{baseline} - {name}| (fp32): {diff:.1e}")
    for precision in ("fp32", "bf16"):
        for name, forward in variants.items():

            def step(forward=forward, precision=precision):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    out = forward()
                out.float().square().mean().backward()

            ms = _median_ms(step, args.repeats)
            print(f"{precision}  {name:24s} {ms:7.1f} ms per fwd+bwd (B={args.batch}, T={args.steps})")


def _row_step(batch: int, precision: str):
    torch.manual_seed(0)
    model = LSTMAutoencoder(ROW["features"], ROW["hidden"], n_classes=ROW["n_classes"])
    task, optimizer = ClassifyTask(), torch.optim.Adam(model.parameters(), 3e-3)
    x = torch.rand(batch, ROW["seq_len"], ROW["features"])
    y = torch.randint(0, ROW["n_classes"], (batch,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss, _ = task.loss(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


def bench_batch(args) -> None:
    settings = [(int(b), p) for b in args.batches.split(",") for p in args.precisions.split(",")]
    rates: dict[tuple[int, str], list[float]] = {s: [] for s in settings}
    for _ in range(args.rounds):
        for batch, precision in settings:
            rates[(batch, precision)].append(batch / _median_ms(_row_step(batch, precision), args.repeats) * 1000)
    for (batch, precision), values in rates.items():
        listed = ", ".join(f"{v:.0f}" for v in values)
        print(f"batch {batch:4d} {precision}: samples/s per round {listed}  (median {statistics.median(values):.0f})")


def bench_profile(args) -> None:
    from torch.profiler import ProfilerActivity, profile

    step = _row_step(args.batch, "bf16")
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.repeats):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("decoder", "encoder", "batch", "profile"))
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch default)")
    p.add_argument("--batch", type=int, default=128, help="batch size (decoder, encoder, profile)")
    p.add_argument("--steps", type=int, default=ROW["seq_len"], help="sequence length (decoder, encoder)")
    p.add_argument("--batches", default="64,128,256,512", help="batch sizes to compare (batch)")
    p.add_argument("--precisions", default="bf16,fp32", help="precisions to compare (batch)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (batch)")
    p.add_argument("--repeats", type=int, default=20, help="timed steps per measurement")
    p.add_argument("--compile", action="store_true", help="also time the torch.compile'd loop (decoder; ~40 s)")
    p.add_argument("--no-keep-freed-memory", action="store_true", help="leave glibc's allocator as it is")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    kept = not args.no_keep_freed_memory and keep_freed_memory()  # as runs do (process.keep_freed_memory)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), keep_freed_memory={kept}")
    benches = {"decoder": bench_decoder, "encoder": bench_encoder, "batch": bench_batch, "profile": bench_profile}
    benches[args.what](args)


if __name__ == "__main__":
    main()
