"""Threads and OpenMP wait policy, idle and with other busy processes on the machine.

    python benchmarks/threads.py [--workloads toy,row,pixel] [--threads 1,2] [--busy 0,1,2] [--out FILE.json]

For each workload (the bench harness's presets: toy, MNIST row, MNIST pixel), thread count, wait
policy (libgomp's default, or PASSIVE) and number of other busy processes (pure-Python spin loops),
a fresh process builds our preset's model and times training steps of the real Trainer
(benchmarks.bench.Ours). Prints one row per setting: training samples/s. Compare rows of one run only:
the machine's other load moves absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEPS = {"toy": 20, "row": 6, "pixel": 2}


def child(workload: str, threads: int) -> None:
    import torch

    from benchmarks.bench import WORKLOADS, Ours, compose_config, synthetic

    w = WORKLOADS[workload]
    cfg = compose_config([*w.overrides, f"process.threads={threads}"])
    ours = Ours(cfg, w, torch.device("cpu"), total_steps=1000, seed=0)
    x, y = synthetic(ours.batch_size * (STEPS[workload] + w.warmup), w.seq_len, w.features, ours.n_classes, 0)
    n_warm = ours.batch_size * w.warmup
    ours.train(x[:n_warm], None if y is None else y[:n_warm])
    start = time.perf_counter()
    ours.train(x[n_warm:], None if y is None else y[n_warm:])
    elapsed = time.perf_counter() - start
    print(json.dumps({"samples_per_s": (len(x) - n_warm) / elapsed, "threads": torch.get_num_threads()}))


def measure(workload: str, threads: int, policy: str, busy: int) -> dict:
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        time.sleep(0.5)
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        env.update({"LSTM_AE_AUTO_WAIT_POLICY": "0"} if policy == "default" else {"OMP_WAIT_POLICY": policy})
        out = subprocess.run(
            [sys.executable, __file__, "--child", workload, str(threads)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(f"error: {workload} threads={threads} policy={policy} failed:\n{out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        for s in spinners:
            s.kill()
            s.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--workloads", default="toy,row,pixel")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--busy", default="0,1,2")
    parser.add_argument("--policies", default="default,PASSIVE")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    rows = []
    print(f"{'workload':8} {'busy':>4} {'threads':>7} {'policy':>8} {'samples/s':>10}", flush=True)
    for workload in args.workloads.split(","):
        for busy in map(int, args.busy.split(",")):
            for threads in map(int, args.threads.split(",")):
                for policy in args.policies.split(","):
                    r = measure(workload, threads, policy, busy)
                    rows.append({"workload": workload, "busy": busy, "threads": threads, "policy": policy, **r})
                    print(f"{workload:8} {busy:4d} {threads:7d} {policy:>8} {r['samples_per_s']:10.1f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}))


if __name__ == "__main__":
    main()
