"""Load that arrives after a run has started: seconds per epoch before, during and after it.

    python -m benchmarks.load_arrives [--runs default,1] [--epochs 30] [--start 3] [--stop 10] [--hidden 64]
                                      [--busy 2] [--extra "dataset=mnist dataset.root=..."]

For each run setting (`default`: no process.threads, the thread count chosen and followed by
lstm_ae.run.runtime; `N`: process.threads=N), a real `python run.py` toy run trains; when its
metrics.csv shows epoch `start`, `busy` pure-Python spin loops start, and they stop once it shows epoch
`stop`. Prints, per setting, the mean s/epoch before, during and after the load, and the thread counts
metrics.csv recorded in each phase. Compare the rows of one invocation only: other load on the machine
moves absolute numbers. The epoch that straddles a change of load counts in the phase it ended in.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def epochs_done(metrics: Path) -> list[dict]:
    try:
        with metrics.open() as fh:
            return list(csv.DictReader(fh))
    except OSError:
        return []


def one_run(setting: str, args: argparse.Namespace, folder: Path) -> dict:
    run_dir = folder / f"run_{setting}"
    cmd = [sys.executable, str(REPO / "run.py"), "dataset=toy", f"model.hidden={args.hidden}",
           f"trainer.epochs={args.epochs}", f"hydra.run.dir={run_dir}", *args.extra.split()]  # fmt: skip
    if setting != "default":
        cmd.append(f"process.threads={setting}")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    spinners: list[subprocess.Popen] = []
    loaded = (None, None)  # epochs at which the load started and stopped
    try:
        while proc.poll() is None:
            done = len(epochs_done(run_dir / "metrics.csv"))
            if not spinners and loaded[0] is None and done >= args.start:
                spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
                loaded = (done, None)
            if spinners and done >= args.stop:
                for s in spinners:
                    s.kill()
                    s.wait()
                spinners, loaded = [], (loaded[0], done)
            time.sleep(0.2)
    finally:
        for s in spinners:
            s.kill()
    if proc.returncode != 0:
        raise SystemExit(f"error: run {setting} failed: {proc.stderr.read()[-2000:]}")
    rows = epochs_done(run_dir / "metrics.csv")
    start, stop = loaded[0] or args.start, loaded[1] or len(rows)
    phases = {"before": rows[1:start], "during": rows[start + 1 : stop], "after": rows[stop + 1 :]}  # epoch 1: warm-up
    out = {"setting": setting}
    for name, part in phases.items():
        times = [float(r["epoch_time_s"]) for r in part]
        out[name] = sum(times) / len(times) if times else float("nan")
        out[f"threads_{name}"] = sorted({int(float(r["threads"])) for r in part if r.get("threads")})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="default,1")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--start", type=int, default=3)
    parser.add_argument("--stop", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--extra", default="", help="more run.py overrides, space-separated")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    print(f"{'setting':8} {'before':>8} {'during':>8} {'after':>8}  s/epoch (threads before / during / after)")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for setting in args.runs.split(","):
            r = one_run(setting, args, Path(folder))
            rows.append(r)
            print(
                f"{setting:8} {r['before']:8.2f} {r['during']:8.2f} {r['after']:8.2f}  "
                f"({r['threads_before']} / {r['threads_during']} / {r['threads_after']})",
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}))


if __name__ == "__main__":
    main()
