"""Claim races: N sweepers, each in its own sweep folder (as on N nodes), on one study of an M-point grid.

    python -m benchmarks.claims --storage sqlite journal postgresql://lstm_ae@127.0.0.1:5433/postgres \
        --sweepers 3 --points 12 --repeats 10

Each repetition starts the N sweepers of tests/examples/sphere.py at once on a new study (a new SQLite or
journal file beside the folders; on a server, a new study name) and counts, from the study, grid points
run more than once (duplicates) and never run (missing), and the sweepers' exit codes. A server URL takes
its password from PGPASSWORD or ~/.pgpass. Prints one line per storage.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna

REPO = Path(__file__).resolve().parent.parent
SPHERE = REPO / "tests" / "examples" / "sphere.py"


def one_race(storage: str, sweepers: int, points: int, base: Path) -> tuple[int, int, list[int]]:
    """(duplicates, missing, exit codes) of one race."""
    name = f"race_{uuid.uuid4().hex[:8]}"
    spec = {"sqlite": f"sqlite:///{base}/optuna.db", "journal": f"{base}/optuna.journal"}.get(storage, storage)
    xs = ",".join(str(i) for i in range(points))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(SPHERE),
                "-m",
                f"x={xs}",
                "y=0",
                f"hydra.sweeper.storage={spec}",
                f"hydra.sweeper.study_name={name}",
                f"hydra.sweep.dir={base}/node{i}",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "SPHERE_SLEEP": "0.2"},
        )
        for i in range(sweepers)
    ]
    codes = [p.wait() for p in procs]
    if storage == "journal":
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        spec = JournalStorage(JournalFileBackend(spec))
    study = optuna.load_study(study_name=name, storage=spec)
    runs = Counter(t.params["x"] for t in study.trials if t.state.name == "COMPLETE")
    return sum(n - 1 for n in runs.values()), points - len(runs), codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", nargs="+", default=["sqlite", "journal"])
    parser.add_argument("--sweepers", type=int, default=3)
    parser.add_argument("--points", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    for storage in args.storage:
        t0, dup, miss, bad = time.perf_counter(), 0, 0, 0
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                d, m, codes = one_race(storage, args.sweepers, args.points, Path(tmp))
            dup, miss, bad = dup + d, miss + m, bad + sum(c != 0 for c in codes)
        label = storage.split("@")[-1] if "://" in storage else storage
        print(f"{label}: {args.repeats} races of {args.sweepers} sweepers x {args.points} points: "
              f"{dup} duplicates, {miss} missing, {bad} non-zero exits, {time.perf_counter() - t0:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
