"""A job running in a child process of the sweep (a joblib worker, a submitit_local job) stops when
the sweep process dies (SIGKILL, the OOM killer) instead of training on as an orphan: nobody would
record its result, and the rerun trains the same folder at the same time.

A daemon thread polls the parent process id every second; when the sweep process is gone the process
is reparented and the thread kills its own process. Jobs in the sweep process itself (Hydra's basic
launcher) and jobs whose parent is not the sweep process (a SLURM job: its heartbeat stops with the
sweep process, so the rerun takes its trial over) are left alone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

POLL_S = 1.0
_watching: set[int] = set()


def stop_with_sweep(sweep_pid: int) -> None:
    """Called at the start of every job; arms the watch once per worker process."""
    if os.getpid() == sweep_pid or os.getppid() != sweep_pid or sweep_pid in _watching:
        return
    _watching.add(sweep_pid)
    threading.Thread(target=_watch, args=(sweep_pid,), name="lstm_ae-stop-with-sweep", daemon=True).start()


def _watch(sweep_pid: int) -> None:
    while os.getppid() == sweep_pid:
        time.sleep(POLL_S)
    print(
        f"sweep process {sweep_pid} is gone: worker {os.getpid()} stops; the same command again resumes its trial",
        file=sys.stderr,
        flush=True,
    )
    os.kill(os.getpid(), signal.SIGKILL)
