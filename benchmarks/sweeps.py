"""Sweep benchmarks: what pruning and parallel trials buy on this machine.

    python -m benchmarks.sweeps pruning   # same TPE search with and without the median pruner
    python -m benchmarks.sweeps parallel  # same grid sequentially vs joblib with 2 workers

Each sweep is a real `python run.py -m ...` in a temp folder; wall time and best objective
are read back from the sweep's summary.csv. Results are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
TOY = ["dataset.size=2000", "trainer.epochs=15", "trainer.batch_size=64"]


def run_sweep(args: list[str], sweep_dir: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "run.py"), "-m", *args, f"hydra.sweep.dir={sweep_dir}"],
        capture_output=True,
        text=True,
        cwd=sweep_dir.parent,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({' '.join(args)}):\n{proc.stderr[-2000:]}")
    df = pd.read_csv(sweep_dir / "summary.csv")
    ok = df[df["status"].isin(["completed", "early_stopped"])]
    return {
        "wall_s": round(wall, 1),
        "best_objective": float(ok["objective"].min()),
        "trials": len(df),
        "pruned": int((df["status"] == "pruned").sum()),
        "epochs_total": int(df["epochs"].fillna(0).sum()),
    }


def bench_pruning(n_trials: int, root: Path) -> dict:
    space = [
        *TOY,
        "model.hidden=int(interval(4,48))",
        "optimizer.lr=tag(log,interval(1e-4,3e-2))",
        f"hydra.sweeper.n_trials={n_trials}",
        "hydra.sweeper.sampler.seed=0",
        "process.threads=1",
    ]
    plain = run_sweep(space, root / "no_pruner")
    pruned = run_sweep(
        [
            *space,
            "hydra/sweeper/pruner=median",
            "hydra.sweeper.pruner.n_startup_trials=5",
            "hydra.sweeper.pruner.n_warmup_steps=3",
        ],
        root / "median",
    )
    return {
        "no_pruner": plain,
        "median_pruner": pruned,
        "wall_ratio": round(pruned["wall_s"] / plain["wall_s"], 3),
        "objective_ratio": round(pruned["best_objective"] / plain["best_objective"], 4),
    }


def bench_parallel(root: Path) -> dict:
    grid = [*TOY, "model.hidden=16,32", "optimizer.lr=0.002,0.005,0.01,0.02", "process.threads=1"]
    sequential = run_sweep(grid, root / "sequential")
    parallel = run_sweep(
        [*grid, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2"], root / "joblib"
    )
    sequential_2t = run_sweep([*grid[:-1], "process.threads=2"], root / "sequential_2threads")
    return {
        "sequential_1thread": sequential,
        "sequential_2threads": sequential_2t,
        "joblib_2x1thread": parallel,
        "speedup_vs_2threads": round(sequential_2t["wall_s"] / parallel["wall_s"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweeps", description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("pruning", "parallel"))
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--out", type=Path, default=Path("bench_results"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = bench_pruning(args.trials, Path(tmp)) if args.which == "pruning" else bench_parallel(Path(tmp))
    result["date"] = time.strftime("%Y-%m-%d %H:%M")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"sweeps_{args.which}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
