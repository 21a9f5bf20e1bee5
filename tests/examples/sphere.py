"""A plain Hydra app, written as for hydra-optuna-sweeper: its task returns the objective and writes
nothing else. SPHERE_OBJECTIVES=2 returns two objectives; SPHERE_FAIL_AT raises when x is above it.
For the sweep's fault tests: SPHERE_SLEEP=s makes a job take s seconds (a trial that trains),
SPHERE_PIDS=dir writes each job's process id there, SPHERE_FREEZE=file makes that file read-only
while the job runs (a disk gone read-only under the study), SPHERE_KILL_AT=v makes a job with x above v
kill itself with SIGKILL (a job ended by its scheduler, without a result), SPHERE_HANG_AT=v makes a job
with x above v sleep 10 minutes (a long trial, for scancel and time limits). SPHERE_PIDS files hold
"x y slurm_job_id" (123_1 for a task of an array; empty outside SLURM)."""

import os
import signal
import subprocess
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lstm_ae.config import HYDRA_BASE


@hydra.main(**HYDRA_BASE, config_path="conf", config_name="sphere")
def sphere(cfg: DictConfig):
    x, y = float(cfg.x), float(cfg.y)
    if "SPHERE_PIDS" in os.environ:
        array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
        job = f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID", "")
        (Path(os.environ["SPHERE_PIDS"]) / str(os.getpid())).write_text(f"{x} {y} {job}".strip())
    if "SPHERE_FREEZE" in os.environ:
        freeze(Path(os.environ["SPHERE_FREEZE"]))
    time.sleep(float(os.environ.get("SPHERE_SLEEP", 0)))
    if "SPHERE_HANG_AT" in os.environ and x > float(os.environ["SPHERE_HANG_AT"]):
        time.sleep(600)
    if "SPHERE_KILL_AT" in os.environ and x > float(os.environ["SPHERE_KILL_AT"]):
        os.kill(os.getpid(), signal.SIGKILL)
    if "SPHERE_FAIL_AT" in os.environ and x > float(os.environ["SPHERE_FAIL_AT"]):
        raise ValueError(f"x={x} is out of range")
    if os.environ.get("SPHERE_OBJECTIVES") == "2":
        return [x**2 + y**2, (x - 2) ** 2 + (y - 2) ** 2]
    return x**2 + y**2


def freeze(path: Path) -> None:
    """Root writes through file modes, so root sets the immutable flag instead (Linux chattr)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:  # an open SQLite connection writes through a mode change, not without its journal file
        path.chmod(0o444)
        path.parent.chmod(0o555)


if __name__ == "__main__":
    sphere()
