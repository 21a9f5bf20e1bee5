"""Benchmark harness: python -m benchmarks.bench [--quick] [--time-to-accuracy] [...]

For each workload (toy T=50 F=1 H=32; MNIST row T=28 F=28 H=128 + classifier; MNIST pixel
T=784 F=1 H=128 + classifier) it measures, interleaved repeat by repeat so that background
load hits both sides alike:

- ours: the workload's Hydra preset (conf/, composed as run.py would) with the real
  components: LSTMAutoencoder, the Task's loss, and the Trainer's own epoch loop
  (Trainer.train_epoch: autocast, clipping, divergence checks, optimizer and scheduler steps),
  evaluated with trainer.evaluate, under the preset's process settings (threads, allocator);
- reference: the same architecture written the way course code is (benchmarks.reference:
  fp32 nn.LSTM, DataLoader over a TensorDataset, batch 64, Adam, loss.item() per batch).

Each side runs in a process of its own (spawned per workload; the parent only sends "time a
training pass" / "time an evaluation" in turn), as it would for a user: process-wide settings
such as our allocator setting (lstm_ae.run.runtime) cannot leak into the reference.

Reported per workload and side: training samples/s (forward + backward + optimizer step),
evaluation samples/s, peak resident memory, achieved FLOP/s as a fraction of the machine's
matmul peak (fp32 and bf16, measured with a large matrix product in the same run), and
ours/reference ratios. Throughput uses synthetic tensors of the workload's shape (the cost of
dense LSTM arithmetic does not depend on the values); time to accuracy (--time-to-accuracy)
uses the real MNIST files. Timings are repeated; the table shows median [min-max].
Peak RSS is the side's process VmHWM over its setup and warm-up (one training step and one
evaluation batch of the measured size); the number in parentheses is its growth over the RSS
before the side was built (the rest is the interpreter, torch and the synthetic data).

FLOP count (matmul FLOPs only; one multiply-add = 2 FLOPs), per sample:
  LSTM layer with input size F_in, hidden H, over T steps: each step computes the four gates
  W_ih x_t + W_hh h_{t-1} with W_ih (4H x F_in), W_hh (4H x H): 2 * 4H * (F_in + H) FLOPs,
  so T * 8H(F_in + H) per layer (stacked layers: F_in = H above the first).
  Encoder: T * 8H(F + H).  Decoder (fed z, size H, at every step, as nn.LSTM computes it):
  T * 8H(H + H) = T * 16 H^2; hoisted (model.hoist_decoder_input, ours on CPU), W_ih z is computed
  once: 8H^2 + T * 8H^2. Each side is credited with the FLOPs it executes, so its fraction of
  peak is honest; samples/s (and so the ratio) counts the same work on both sides.
  Output Linear H->F at every step: T * 2HF.
  Classifier Linear H->C on z: 2HC.
  Forward = sum of these. Backward = 2 x forward (for every matmul one for the gradient
  w.r.t. its input and one w.r.t. its weight, each the forward's size) minus the input
  gradients nobody needs: the encoder's w.r.t. the data x (T * 8HF) and each LSTM layer's
  w.r.t. its zero initial state h_0 (8H^2 per layer, encoder and decoder). So per sample
  train = 3 * forward - T * 8HF - 2 * layers * 8H^2  (within 3 % of the usual 3 x forward),
  and one training step = train x batch size. This equals what torch.utils.flop_counter counts
  for the model unrolled with lstm_cell (tests/test_bench.py).
  Left out: biases, gate nonlinearities and elementwise cell updates (~20H per step and
  layer, about 2 % for H=128), losses and the optimizer (O(parameters) per step).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import json
import logging
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks import reference as ref
from lstm_ae.run import runtime as allocator

REPO = Path(__file__).resolve().parent.parent
CONF_DIR = REPO / "conf"
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
DEFAULT_OUT = Path("bench_results")
LOAD_NOTE = (
    "Shared machine: absolute numbers are depressed by whatever else runs (see load average); "
    "ours and reference run interleaved (each in its own process), so their ratios stay comparable."
)


# -- FLOPs -----------------------------------------------------------------------------------
def lstm_flops(seq_len: int, input_size: int, hidden: int, layers: int = 1, constant_input: bool = False) -> int:
    """Matmul FLOPs of one LSTM forward pass over one sequence. constant_input: the first layer's
    input is the same at every step and projected once (the hoisted decoder)."""
    total = 0
    for layer in range(layers):
        f_in = input_size if layer == 0 else hidden
        projections = 1 if (constant_input and layer == 0) else seq_len
        total += 2 * 4 * hidden * (projections * f_in + seq_len * hidden)
    return total


def forward_flops(
    seq_len: int, features: int, hidden: int, layers: int = 1, n_classes: int = 0, hoisted: bool = False
) -> dict[str, int]:
    """Matmul FLOPs of one LSTMAutoencoder forward pass per sample, by part (see module doc)."""
    parts = {
        "encoder": lstm_flops(seq_len, features, hidden, layers),
        "decoder": lstm_flops(seq_len, hidden, hidden, layers, constant_input=hoisted),
        "output": seq_len * 2 * hidden * features,
        "classifier": 2 * hidden * n_classes,
    }
    parts["total"] = sum(parts.values())
    return parts


def train_flops(seq_len, features, hidden, layers=1, n_classes=0, hoisted=False) -> int:
    """FLOPs of forward + backward per sample (see module doc)."""
    fwd = forward_flops(seq_len, features, hidden, layers, n_classes, hoisted)["total"]
    unneeded = seq_len * 8 * hidden * features + 2 * layers * 8 * hidden * hidden
    return 3 * fwd - unneeded


def train_step_flops(seq_len, features, hidden, layers=1, n_classes=0, batch_size=1, hoisted=False) -> int:
    """FLOPs of one training step (forward + backward) on a batch."""
    return train_flops(seq_len, features, hidden, layers, n_classes, hoisted) * batch_size


# -- machine, memory, timing -----------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _proc_status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where not supported."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb() -> float:
    kb = _proc_status_kb("VmRSS")
    return kb / 1024 if kb is not None else math.nan


def peak_rss_mb() -> float:
    """VmHWM since the last reset, else the process's lifetime peak from getrusage."""
    kb = _proc_status_kb("VmHWM")
    if kb is None:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024


def machine_info(device: torch.device) -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        pass
    info = {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def _rate(fn, n: int, device: torch.device, min_time: float, repeats: int) -> list[float]:
    fn()  # warm-up (kernel selection, page faults)
    _sync(device)
    rates = []
    for _ in range(repeats):
        count, t0 = 0, time.perf_counter()
        while True:
            fn()
            count += 1
            _sync(device)
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time:
                break
        rates.append(2 * n**3 * count / elapsed)
    return rates


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, min_time: float = 0.3, repeats: int = 3) -> dict:
    """FLOP/s of an n x n x n matrix product, the best over backends and `repeats` timed batches.

    On CPU two backends are tried: torch.matmul (MKL for fp32, which on AMD CPUs takes an AVX2 path
    at about half of what the core can do) and oneDNN (nn.functional.linear on mkldnn tensors, the
    library nn.LSTM and bf16 matmuls run on); the machine's peak is the better of the two."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    candidates = {"matmul": lambda: a @ b}
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        try:
            am, bm = a.to_mkldnn(), b.to_mkldnn()
            torch.nn.functional.linear(am, bm)
            candidates["onednn"] = lambda: torch.nn.functional.linear(am, bm)
        except (RuntimeError, TypeError):
            pass
    by_backend = {name: max(_rate(fn, n, device, min_time, repeats)) for name, fn in candidates.items()}
    best = max(by_backend, key=by_backend.get)
    return {"flops": by_backend[best], "backend": best, "by_backend": by_backend, "n": n}


PEAK_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


# -- workloads -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    name: str
    seq_len: int
    features: int
    overrides: tuple[str, ...]  # Hydra overrides giving our preset for it
    full: tuple[int, int, int]  # (training batches of our batch size per repeat, eval samples, repeats)
    quick: tuple[int, int, int]
    warmup: int = 2  # untimed training steps first: kernel setup, and the heap settling (pixel: 2 steps)


WORKLOADS = {
    "toy": Workload("toy", 50, 1, ("dataset=toy", "model.hidden=32"), (30, 6000, 3), (8, 2000, 3)),
    "row": Workload("row", 28, 28, ("experiment=mnist_classify",), (12, 8192, 3), (4, 2048, 3)),
    "pixel": Workload("pixel", 784, 1, ("experiment=mnist_pixel",), (1, 256, 5), (1, 128, 1), warmup=3),
}


def compose_config(overrides: list[str]):
    """The run config exactly as `python run.py OVERRIDES` composes it."""
    from hydra import compose, initialize_config_dir

    if not CONF_DIR.is_dir():
        raise SystemExit(f"error: config folder {CONF_DIR} not found (the harness runs from a source checkout)")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


def synthetic(n: int, seq_len: int, features: int, n_classes: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, seq_len, features, generator=g)
    y = torch.randint(0, n_classes, (n,), generator=g) if n_classes > 0 else None
    return x, y


class Ours:
    """Our preset's model, loss, optimizer, scheduler and process settings, trained by the real
    Trainer's own epoch loop (Trainer.train_epoch), without a run folder."""

    def __init__(self, cfg, workload: Workload, device: torch.device, total_steps: int, seed: int) -> None:
        from lstm_ae.config import build, typed_process, validate
        from lstm_ae.data.base import SequenceData, Split
        from lstm_ae.run.prepare import apply_process_settings, build_model, scheduler_config
        from lstm_ae.train.trainer import Trainer, effective_precision

        model_cfg, tc = validate(cfg)
        apply_process_settings(typed_process(cfg.process))  # as a run does (threads as set when process.threads=0)
        task = build(cfg.task)
        n_classes = 10 if task.name == "classify" else 0
        x, y = synthetic(2, workload.seq_len, workload.features, n_classes, seed)
        shape_only = SequenceData(workload.name, Split(x, y), Split(x, y), Split(x, y), n_classes=n_classes)
        torch.manual_seed(seed)
        model = build_model(model_cfg, shape_only, task)
        self.trainer = Trainer(
            model, task, build(cfg.optimizer), scheduler_config(cfg), Path(tempfile.gettempdir()), tc, seed=seed
        )
        self.trainer.build_scheduler(total_steps)
        self.model, self.task = self.trainer.model, task
        self.device, self.precision = device, effective_precision(device, tc.precision)
        self.batch_size, self.eval_batch_size = tc.batch_size, tc.eval_batch_size
        self.hidden, self.layers, self.n_classes = model_cfg.hidden, model_cfg.layers, n_classes

    def train(self, x: torch.Tensor, y: torch.Tensor | None, max_steps: int | None = None) -> None:
        from lstm_ae.data.base import Split

        if max_steps is not None:  # the first max_steps batches' worth of samples
            n = max_steps * self.batch_size
            x, y = x[:n], (y[:n] if y is not None else None)
        self.trainer.train_epoch(Split(x, y), epoch=1)
        _sync(self.device)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict:
        from lstm_ae.data.base import Split
        from lstm_ae.train.trainer import score_split

        out = score_split(self.model, self.task, Split(x, y), self.device, self.precision, self.eval_batch_size)
        _sync(self.device)
        return out


class Reference:
    """The course-style loop of benchmarks.reference on the same architecture."""

    precision = "fp32"

    def __init__(self, workload: Workload, hidden: int, layers: int, n_classes: int, device, seed: int) -> None:
        torch.manual_seed(seed)
        self.model = ref.CourseLSTMAutoencoder(workload.features, hidden, n_classes, layers).to(device)
        self.optimizer = ref.make_optimizer(self.model)
        self.device, self.batch_size, self.eval_batch_size = device, ref.BATCH_SIZE, ref.BATCH_SIZE
        self.hidden, self.layers, self.n_classes = hidden, layers, n_classes
        self._loaders: dict = {}

    def _loader(self, x, y, shuffle):
        key = (id(x), shuffle)
        if key not in self._loaders:  # course code builds its loaders once, before the epochs
            self._loaders[key] = ref.make_loader(x, y, ref.BATCH_SIZE, shuffle)
        return self._loaders[key]

    def train(self, x, y, max_steps=None) -> None:
        ref.train_epoch(self.model, self._loader(x, y, True), self.optimizer, self.device, max_steps)
        _sync(self.device)

    def evaluate(self, x, y) -> dict:
        out = ref.evaluate(self.model, self._loader(x, y, False), self.device)
        _sync(self.device)
        return out


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


@dataclass(frozen=True)
class SideSpec:
    """What a side's process needs to build itself (picklable: it crosses a process boundary)."""

    impl: str  # ours | reference
    workload: Workload
    overrides: tuple[str, ...]
    threads: int
    device: str
    seed: int
    batches: int
    eval_n: int
    total_steps: int


def settle_allocator_as_after_loading() -> None:
    """Put glibc's malloc where a real script has it once its dataset is loaded.

    Loading data frees buffers of a few MiB up to tens of MiB, and each free of such a block
    raises glibc's mmap threshold (to at most 32 MiB); after that, a training step's buffers
    below the threshold are reused instead of being page-faulted in afresh. A process that
    only built small synthetic tensors never gets there: measured here, the reference trained
    on row MNIST with 1,500-5,700 page faults per step in such a process and with ~0 in one
    that had loaded MNIST through lstm_ae.data.mnist or had run this function (same speed).
    Both sides run it, so neither is measured in a state no real run is in."""
    for mib in (4, 8, 16, 30):
        block = torch.empty(mib * 2**18)  # float32: 4 bytes each
        block.fill_(0)
        del block


def _minor_faults() -> int:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except ImportError:  # not on Windows
        return 0


def _side_process(conn, spec: SideSpec) -> None:
    """A side's own process: build, warm up, report memory, then time train/eval on command.

    Each side runs in a process of its own, as it would for a user: process-wide settings
    (allocator, threads) of one side cannot leak into the other, and peak memory is its own."""
    try:
        from lstm_ae.run.runtime import usable_cores

        # Both sides train with the same threads: --threads, else what a run would take (chosen by the parent
        # before the sides start: a side's own load check would count the other side).
        threads = spec.threads or usable_cores()
        torch.set_num_threads(threads)
        from lstm_ae.train.trainer import resolve_device

        device = resolve_device(spec.device)
        w = spec.workload
        cfg = compose_config([*w.overrides, *spec.overrides, f"process.threads={threads}"])
        n_classes = 10 if cfg.task.name == "classify" else 0
        x_train, y_train = synthetic(
            spec.batches * int(cfg.trainer.batch_size), w.seq_len, w.features, n_classes, spec.seed
        )
        x_eval, y_eval = synthetic(spec.eval_n, w.seq_len, w.features, n_classes, spec.seed + 1)
        settle_allocator_as_after_loading()
        exact = reset_peak_rss()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        rss0 = rss_mb()
        if spec.impl == "ours":
            side = Ours(cfg, w, device, spec.total_steps, spec.seed)
        else:
            side = Reference(w, int(cfg.model.hidden), int(cfg.model.layers), n_classes, device, spec.seed)
        # Warm-up: one-time kernel/primitive setup, and the memory peak of a step and an eval batch.
        for _ in range(math.ceil(w.warmup / math.ceil(x_train.shape[0] / side.batch_size))):
            side.train(x_train, y_train, w.warmup)  # passes of at most `warmup` steps, `warmup` steps in all
        first = min(spec.eval_n, side.eval_batch_size)
        side.evaluate(x_eval[:first], y_eval[:first] if y_eval is not None else None)
        memory = {"peak_rss_mb": peak_rss_mb(), "delta_rss_mb": peak_rss_mb() - rss0, "rss_exact": exact}
        if device.type == "cuda":
            memory["gpu_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        meta = {
            "precision": side.precision,
            "batch_size": side.batch_size,
            "eval_batch_size": side.eval_batch_size,
            "hidden": side.hidden,
            "layers": side.layers,
            "n_classes": side.n_classes,
            "params": sum(p.numel() for p in side.model.parameters()),
            "train_samples": x_train.shape[0],
            "threads": torch.get_num_threads(),
            "keep_freed_memory": allocator.is_applied(),
            "hoisted_decoder": spec.impl == "ours" and side.model.hoists_decoder_input(device),
        }
        conn.send(("ready", {**meta, **memory}))
        while (command := conn.recv()) != "stop":
            if command == "train":
                faults = _minor_faults()
                seconds = _timed(side.train, x_train, y_train)
                conn.send(("ok", (seconds, _minor_faults() - faults)))
            else:
                conn.send(("ok", _timed(side.evaluate, x_eval, y_eval)))
    except BaseException:  # report, then end: the parent raises with the child's traceback
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class SideProcess:
    """The parent's handle on one side's process."""

    def __init__(self, spec: SideSpec) -> None:
        ctx = mp.get_context("spawn")
        self.impl = spec.impl
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_side_process, args=(child, spec), name=f"bench-{spec.impl}", daemon=True)
        self.proc.start()
        child.close()

    def _reply(self):
        try:
            status, payload = self.conn.recv()
        except EOFError:
            self.proc.join(5)
            raise RuntimeError(f"{self.impl} benchmark process died (exit code {self.proc.exitcode})") from None
        if status == "error":
            raise RuntimeError(f"{self.impl} benchmark process failed:\n{payload}")
        return payload

    def ready(self) -> dict:
        return self._reply()

    def time(self, what: str):
        """ "train": (seconds, page faults) of one training pass; "eval": seconds of one evaluation."""
        self.conn.send(what)
        return self._reply()

    def close(self) -> None:
        try:
            self.conn.send("stop")
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.kill()


def bench_workload(workload: Workload, args, overrides: list[str]) -> list[dict]:
    """Both sides of one workload, each in its own process; returns one result row per side."""
    batches, eval_n, repeats = workload.quick if args.quick else workload.full
    repeats = args.repeats or repeats
    total_steps = workload.warmup + batches * repeats + 10
    sides = {
        impl: SideProcess(
            SideSpec(
                impl, workload, tuple(overrides), args.threads, args.device, args.seed, batches, eval_n, total_steps
            )
        )
        for impl in ("ours", "reference")
    }
    try:
        meta = {impl: side.ready() for impl, side in sides.items()}
        times: dict[str, dict[str, list[float]]] = {impl: {"train": [], "eval": []} for impl in sides}
        faults: dict[str, list[int]] = {impl: [] for impl in sides}
        for _ in range(repeats):  # interleaved, so drifting background load hits both sides alike
            for impl, side in sides.items():
                seconds, n_faults = side.time("train")
                times[impl]["train"].append(seconds)
                faults[impl].append(n_faults)
                times[impl]["eval"].append(side.time("eval"))
    finally:
        for side in sides.values():
            side.close()
    rows = []
    for impl, m in meta.items():
        n_train = m["train_samples"]
        shape = (workload.seq_len, workload.features, m["hidden"], m["layers"], m["n_classes"])
        rows.append(
            {
                "workload": workload.name,
                "impl": impl,
                "seq_len": workload.seq_len,
                "features": workload.features,
                **{k: m[k] for k in ("hidden", "layers", "n_classes", "params", "precision", "batch_size")},
                "eval_batch_size": m["eval_batch_size"],
                "threads": m["threads"],
                "keep_freed_memory": m["keep_freed_memory"],
                "train_samples": n_train,
                "eval_samples": eval_n,
                "repeats": repeats,
                "train_sps": stats([n_train / t for t in times[impl]["train"]]),
                "eval_sps": stats([eval_n / t for t in times[impl]["eval"]]),
                "hoisted_decoder": m["hoisted_decoder"],
                "fwd_flops_per_sample": forward_flops(*shape, hoisted=m["hoisted_decoder"])["total"],
                "train_flops_per_sample": train_flops(*shape, hoisted=m["hoisted_decoder"]),
                "train_step_flops": train_step_flops(*shape, batch_size=m["batch_size"], hoisted=m["hoisted_decoder"]),
                "page_faults_per_step": statistics.median(faults[impl]) / math.ceil(n_train / m["batch_size"]),
                **{k: m[k] for k in ("peak_rss_mb", "delta_rss_mb", "rss_exact") if k in m},
                **({"gpu_peak_mb": m["gpu_peak_mb"]} if "gpu_peak_mb" in m else {}),
            }
        )
    if rows[0]["params"] != rows[1]["params"]:
        raise RuntimeError(f"{workload.name}: ours and reference differ in parameter count: {rows}")
    return rows


def add_derived(rows: list[dict], peaks: dict) -> None:
    """FLOP/s, fraction of the matmul peak of each side's precision, ours/reference ratios."""
    by_key = {(r["workload"], r["impl"]): r for r in rows}
    for r in rows:
        peak = peaks[r["precision"]]["flops"] / 1e9
        r["peak_gflops"] = peak
        r["train_gflops"] = r["train_flops_per_sample"] * r["train_sps"]["median"] / 1e9
        r["eval_gflops"] = r["fwd_flops_per_sample"] * r["eval_sps"]["median"] / 1e9
        r["train_frac_peak"] = r["train_gflops"] / peak
        r["eval_frac_peak"] = r["eval_gflops"] / peak
        base = by_key.get((r["workload"], "reference"))
        if base is not None:
            for key in ("train", "eval"):
                r[f"{key}_ratio"] = r[f"{key}_sps"]["median"] / base[f"{key}_sps"]["median"]
                r[f"{key}_ratio_best"] = r[f"{key}_sps"]["max"] / base[f"{key}_sps"]["max"]


# -- time to accuracy ------------------------------------------------------------------------
def mnist_root(arg: str | None) -> Path:
    """A folder holding MNIST/raw/ IDX files: --mnist-root, ./data, or ../shared/data/mnist decompressed."""
    from lstm_ae.data.mnist import RAW_FILES as names
    from lstm_ae.data.mnist import unpack_gz

    candidates = [Path(arg)] if arg else [Path("data"), DEFAULT_OUT / "mnist"]
    for root in candidates:
        if all((root / "MNIST" / "raw" / n).exists() for n in names):
            return root
    if arg:
        raise SystemExit(f"error: --mnist-root {arg}: expected {', '.join(names)} under {arg}/MNIST/raw/")
    if not all((SHARED_MNIST / f"{n}.gz").exists() for n in names):
        raise SystemExit(f"error: MNIST not found; pass --mnist-root (a folder with MNIST/raw/{names[0]} ...)")
    return unpack_gz(SHARED_MNIST, DEFAULT_OUT / "mnist")


def _tta_ours(cfg, target: float, threads: int) -> dict:
    from lstm_ae.run.prepare import prepare
    from lstm_ae.train.trainer import Trainer, score_split

    if threads:
        torch.set_num_threads(threads)
    t_load = time.perf_counter()
    prep = prepare(cfg)  # loads the real MNIST files, seeds, builds the preset's model, process settings
    load_s = time.perf_counter() - t_load
    tc = prep.trainer_cfg
    epochs: list[dict] = []
    clock = {"t0": 0.0, "paused": 0.0}

    def on_epoch(epoch: int, objective: float) -> None:  # test accuracy, off the clock
        t_pause = time.perf_counter()
        acc = score_split(prep.model, prep.task, prep.data.test, prep.device, tc.precision, tc.eval_batch_size)["acc"]
        epochs.append({"epoch": epoch, "time_s": t_pause - clock["t0"] - clock["paused"], "test_acc": acc})
        print(f"  ours      epoch {epoch:2d}  {epochs[-1]['time_s']:7.1f} s  test acc {acc:.4f}", flush=True)
        clock["paused"] += time.perf_counter() - t_pause

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(  # a fresh temp folder: nothing to resume
            prep.model, prep.task, prep.optimizer_factory, prep.scheduler_cfg, Path(tmp), tc, epoch_callbacks=[on_epoch]
        )
        clock["t0"] = time.perf_counter()
        trainer.fit(prep.data.train, prep.data.val)
    summary = {
        "impl": "ours",
        "precision": tc.precision,
        "batch_size": tc.batch_size,
        "load_s": load_s,
        **_reached(epochs, target),
    }
    return summary


def _tta_reference(cfg, threads: int, target: float, max_epochs: int, max_time: float, seed: int) -> dict:
    from lstm_ae.config import build
    from lstm_ae.train.trainer import resolve_device

    if threads:
        torch.set_num_threads(threads)
    t_load = time.perf_counter()
    data = build(cfg.dataset)  # the same real files and split as ours
    load_s = time.perf_counter() - t_load
    device, hidden = resolve_device(cfg.trainer.device), int(cfg.model.hidden)
    torch.manual_seed(seed)
    model = ref.CourseLSTMAutoencoder(data.input_size, hidden, data.n_classes).to(device)
    optimizer = ref.make_optimizer(model)
    loader = ref.make_loader(data.train.x, data.train.y)
    test_loader = ref.make_loader(data.test.x, data.test.y, batch_size=2000, shuffle=False)  # monitoring only
    epochs: list[dict] = []
    t0, paused = time.perf_counter(), 0.0
    for epoch in range(1, max_epochs + 1):
        ref.train_epoch(model, loader, optimizer, device)
        t_pause = time.perf_counter()
        acc = ref.evaluate(model, test_loader, device)["acc"]
        epochs.append({"epoch": epoch, "time_s": t_pause - t0 - paused, "test_acc": acc})
        print(f"  reference epoch {epoch:2d}  {epochs[-1]['time_s']:7.1f} s  test acc {acc:.4f}", flush=True)
        paused += time.perf_counter() - t_pause
        if acc >= target or epochs[-1]["time_s"] >= max_time:
            break
    return {
        "impl": "reference",
        "precision": "fp32",
        "batch_size": ref.BATCH_SIZE,
        "load_s": load_s,
        **_reached(epochs, target),
    }


def _in_own_process(fn, *args):
    """fn(*args) in a fresh process (see _side_process: process-wide settings stay per side)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _reached(epochs: list[dict], target: float) -> dict:
    hit = next((e for e in epochs if e["test_acc"] >= target), None)
    return {
        "reached": hit is not None,
        "epochs_to_target": hit["epoch"] if hit else None,
        "time_to_target_s": hit["time_s"] if hit else None,
        "final_test_acc": epochs[-1]["test_acc"] if epochs else None,
        "train_time_s": epochs[-1]["time_s"] if epochs else None,
        "epochs": epochs,
    }


def time_to_accuracy(args, overrides: list[str]) -> dict:
    """Ours: the mnist_classify preset through the real Trainer; reference: the course loop until the target.
    Each in its own process, each timing its own data load."""
    root = mnist_root(args.mnist_root)
    cfg = compose_config(["experiment=mnist_classify", f"dataset.root={root}", "dataset.download=false", *overrides])
    print(f"\nTime to {args.tta_target:.1%} test accuracy, MNIST row classify preset (real data, {root})", flush=True)
    ours = _in_own_process(_tta_ours, cfg, args.tta_target, args.threads)
    reference = _in_own_process(
        _tta_reference, cfg, args.threads, args.tta_target, args.tta_max_epochs, args.tta_max_time, args.seed
    )
    for side in (ours, reference):
        side["wall_to_target_s"] = side["load_s"] + side["time_to_target_s"] if side["reached"] else None
    return {"target": args.tta_target, "mnist_root": str(root), "ours": ours, "reference": reference}


# -- output ----------------------------------------------------------------------------------
def _num(v: float) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def _spread(s: dict) -> str:
    if len(s["runs"]) == 1:
        return f"{_num(s['median'])} (n=1)"
    return f"{_num(s['median'])} [{_num(s['min'])}-{_num(s['max'])}]"


def format_table(rows: list[dict]) -> str:
    head = ("workload", "impl", "prec", "batch", "train samples/s", "x ref", "eval samples/s", "x ref")
    head += ("train GFLOP/s", "% peak", "faults/step", "peak RSS MB")
    ours = [r["impl"] == "ours" for r in rows]
    lines = [head]
    for r, is_ours in zip(rows, ours):
        lines.append(
            (
                r["workload"],
                r["impl"],
                r["precision"],
                str(r["batch_size"]),
                _spread(r["train_sps"]),
                f"{_num(r['train_ratio'])} ({_num(r['train_ratio_best'])})" if is_ours else "",
                _spread(r["eval_sps"]),
                f"{_num(r['eval_ratio'])} ({_num(r['eval_ratio_best'])})" if is_ours else "",
                _num(r["train_gflops"]),
                f"{100 * r['train_frac_peak']:.1f}",
                f"{r['page_faults_per_step']:.0f}",
                f"{r['peak_rss_mb']:.0f} (+{r['delta_rss_mb']:.0f})",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [
        "  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))) for line in lines
    ]
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out)


def format_tta(tta: dict) -> str:
    lines = [f"time to {tta['target']:.1%} test accuracy (MNIST row, real data; test evaluations off the clock)"]
    for side in (tta["ours"], tta["reference"]):
        got = (
            f"reached at epoch {side['epochs_to_target']}: {side['time_to_target_s']:.1f} s training, "
            f"{side['wall_to_target_s']:.1f} s incl. data load"
            if side["reached"]
            else f"NOT reached in {side['train_time_s']:.0f} s ({len(side['epochs'])} epochs)"
        )
        lines.append(
            f"  {side['impl']:9s} {side['precision']} batch {side['batch_size']}: {got}; "
            f"final test acc {side['final_test_acc']:.4f} after {side['train_time_s']:.1f} s"
        )
    return "\n".join(lines)


def write_outputs(result: dict, out: Path) -> tuple[Path, Path]:
    if out.suffix in (".json", ".csv"):
        json_path, csv_path = out.with_suffix(".json"), out.with_suffix(".csv")
    else:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        json_path, csv_path = out / f"bench-{stamp}.json", out / f"bench-{stamp}.csv"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2, default=str))
    flat = []
    for r in result["throughput"]:
        row = {k: v for k, v in r.items() if not isinstance(v, dict)}
        for key in ("train_sps", "eval_sps"):
            row.update({f"{key}_{s}": r[key][s] for s in ("median", "min", "max")})
        flat.append(row)
    for side in ("ours", "reference"):
        t = (result.get("time_to_accuracy") or {}).get(side)
        if t:
            flat.append({"workload": "row_time_to_accuracy", **{k: v for k, v in t.items() if k != "epochs"}})
    fields: list[str] = []
    for row in flat:
        fields += [k for k in row if k not in fields]
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(flat)
    return json_path, csv_path


# -- main ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Throughput, memory and fraction of matmul peak of our training vs a course-style reference loop.",
    )
    p.add_argument("--quick", action="store_true", help="short version (under a minute on a quiet 2-core CPU)")
    p.add_argument("--workloads", default="toy,row,pixel", help="comma-separated subset of toy,row,pixel, or none")
    p.add_argument(
        "--repeats", type=int, default=0, help="timed repeats per side (0: per workload, 3; pixel 5, or 1 with --quick)"
    )
    p.add_argument(
        "--threads", type=int, default=0, help="torch threads for both sides (0: as runs choose: the free cores)"
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder, or a .json/.csv path (both are written)")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Hydra override applied to our presets, e.g. trainer.batch_size=256 (repeatable)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peak-n", type=int, default=0, help="matrix size of the peak matmul (0: 2048, CUDA 4096)")
    p.add_argument("--time-to-accuracy", action="store_true", help="also train MNIST row to the target (minutes)")
    p.add_argument("--mnist-root", help="folder holding MNIST/raw/ IDX files (default: ./data or ../shared/data)")
    p.add_argument("--tta-target", type=float, default=0.98)
    p.add_argument("--tta-max-epochs", type=int, default=30, help="reference epochs at most")
    p.add_argument("--tta-max-time", type=float, default=1800.0, help="reference training seconds at most")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    from lstm_ae.train.trainer import resolve_device

    if not args.threads:  # as a run would choose, judged before any side process exists
        from lstm_ae.run.runtime import auto_threads

        args.threads, note = auto_threads()
        if note:
            print(f"warning: {note}", file=sys.stderr)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    names = [] if args.workloads == "none" else [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"error: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    overrides = [f"trainer.device={args.device}", *args.override]
    info = machine_info(device)
    started = dt.datetime.now().astimezone()
    print(
        f"benchmarks.bench {started:%Y-%m-%d %H:%M %Z} | {info['cpu']} | {info['cores']} cores, "
        f"{info['threads']} threads | torch {info['torch']} | device {device}"
        + (f" ({info['gpu']})" if "gpu" in info else "")
        + f" | load average {info['loadavg_start'][0]:.2f}" * bool(info["loadavg_start"]),
        flush=True,
    )
    load = info["loadavg_start"][0] if info["loadavg_start"] else 0.0
    if device.type == "cpu" and info["threads"] > 1 and load + info["threads"] > (info["cores"] or 1) + 0.5:
        print(
            f"warning: load average {load:.1f} on {info['cores']} cores: other processes compete for the CPU, and "
            f"{info['threads']} threads per process oversubscribe it (threads spin-wait for descheduled partners); "
            "timings will be noisy and depressed. --threads 1 measures more stably on a shared machine.",
            flush=True,
        )
    n_peak = args.peak_n or (4096 if device.type == "cuda" else 2048)

    def measure_peaks() -> dict:
        from lstm_ae.train.trainer import effective_precision

        min_time = 0.3 if args.quick else 0.5
        # bf16 only where the runs use it: a CPU without bf16 LSTM support (AVX2) trains in fp32, and its
        # emulated bf16 products would take minutes to time for nothing
        bf16 = effective_precision(device, "bf16") == "bf16"
        return {
            key: matmul_peak(device, dtype, n_peak, min_time)
            for key, dtype in PEAK_DTYPES.items()
            if key == "fp32" or bf16
        }

    peak_runs = [measure_peaks()] if names else []
    rows: list[dict] = []
    for name in names:
        t0 = time.perf_counter()
        rows += bench_workload(WORKLOADS[name], args, overrides)
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    if names:  # the peak again after the workloads; the better of the two counts
        peak_runs.append(measure_peaks())
    peaks = {k: max((r[k] for r in peak_runs), key=lambda p: p["flops"]) for k in peak_runs[0]} if names else {}
    add_derived(rows, peaks)
    info["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    result = {
        "command": "python -m benchmarks.bench " + " ".join(sys.argv[1:]),
        "date": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": info,
        "note": LOAD_NOTE,
        "flop_formula": "per sample, matmul FLOPs: fwd = T*8H(F+H) + T*16H^2 + T*2HF + 2HC (1 layer); train = 3*fwd - T*8HF - 2*8H^2",
        "overrides": args.override,
        "peak": {k: {"gflops": v["flops"] / 1e9, "backend": v["backend"], "n": v["n"]} for k, v in peaks.items()},
        "peak_runs": peak_runs,
        "throughput": rows,
    }
    if rows:
        print()
        print(format_table(rows))
        measured = ", ".join(f"{k} {v['flops'] / 1e9:.0f} GFLOP/s ({v['backend']})" for k, v in peaks.items())
        print(
            f"peak matmul: {measured} (n={n_peak}, best of before and "
            "after the workloads; bf16 only where runs train in bf16); % peak: train GFLOP/s against the "
            "peak of the side's own precision.\nThroughput: median [min-max] over repeats; x ref: ratio of medians "
            "(ratio of bests); faults/step: page faults per training step (median pass)."
        )
        print(LOAD_NOTE)
    if args.time_to_accuracy:
        result["time_to_accuracy"] = time_to_accuracy(args, overrides)
        print(format_tta(result["time_to_accuracy"]))
    json_path, csv_path = write_outputs(result, args.out)
    print(f"wrote {json_path} and {csv_path}")
    return result


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run(parse_args(argv))


if __name__ == "__main__":
    main()
