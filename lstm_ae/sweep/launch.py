"""How the sweep hands a batch of trials to Hydra's launcher and gets one JobReturn per trial back.

hydra-submitit-launcher's own launch() waits for its jobs in order and raises at the first that ended
without a result (scancel, a time limit, a failed node, the OOM killer), losing the batch. For its
launchers (submitit_slurm, submitit_local) the batch is submitted here the same way and each job is
gathered on its own: a job without a result comes back as a FAILED JobReturn whose return_value raises
JobInterrupted, naming the scheduler's state; the sweep records that trial as FAIL with the state as
its reason, and the next invocation of the same command runs it again (from its checkpoint).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class JobInterrupted(RuntimeError):
    """A job that ended without a result: the scheduler's state (CANCELLED, TIMEOUT, NODE_FAIL,
    OUT_OF_MEMORY...) and which job it was."""

    def __init__(self, state: str, detail: str = "") -> None:
        self.state = state
        super().__init__(f"{state}: {detail}" if detail else state)


class LaunchConfigError(ValueError):
    """A launcher request that no node of the cluster can meet; the message is one line naming the key."""


@dataclass(frozen=True)
class Node:
    """One SLURM node as sinfo describes it."""

    partition: str
    name: str
    cpus: int
    memory_mb: int
    gpus: int
    default: bool  # in the cluster's default partition


def slurm_nodes() -> list[Node] | None:
    """Every node of every partition (sinfo), or None when sinfo cannot tell (no SLURM here)."""
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%P|%N|%c|%m|%G"], capture_output=True, text=True,
                             timeout=30, check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    nodes = []
    for line in out.splitlines():
        partition, name, cpus, memory, gres = line.split("|")
        gpus = sum(int(m) for m in re.findall(r"gpu(?::[^:,()]+)?:(\d+)", gres))
        nodes.append(Node(partition.rstrip("*"), name, int(cpus.rstrip("+")), int(memory.rstrip("+")), gpus,
                          partition.endswith("*")))  # fmt: skip
    return nodes


def check_resources(launcher: Any, nodes: list[Node] | None = None) -> None:
    """Before anything is submitted: a SLURM request that no node of its partition can meet (SLURM
    would queue it forever) is one line naming the key and the most a node offers."""
    if not _is_submitit(launcher) or launcher._EXECUTOR != "slurm":  # noqa: SLF001
        return
    nodes = slurm_nodes() if nodes is None else nodes
    if not nodes:
        return
    p = launcher.params
    wanted = p.get("partition")
    part = [n for n in nodes if (n.partition == wanted if wanted else n.default)]
    if not part:
        names = ", ".join(sorted({n.partition for n in nodes}))
        raise LaunchConfigError(f"hydra.launcher.partition={wanted}: no such SLURM partition; there are: {names}")
    where = f"SLURM partition {part[0].partition}"
    tasks = int(p.get("tasks_per_node") or 1)
    asks = [  # (key and value, what a node offers, how much is asked, unit)
        (f"cpus_per_task={p.get('cpus_per_task')}", "cpus", int(p.get("cpus_per_task") or 1) * tasks, "CPUs"),
        (f"mem_gb={p.get('mem_gb')}", "memory_mb", int(float(p.get("mem_gb") or 0) * 1024), "MB of memory"),
        (f"gpus_per_node={p.get('gpus_per_node')}", "gpus", int(p.get("gpus_per_node") or 0), "GPUs"),
    ]
    for key, field, asked, unit in asks:
        most = max(getattr(n, field) for n in part)
        if asked > most:
            per = f" ({tasks} tasks per node)" if field == "cpus" and tasks > 1 else ""
            raise LaunchConfigError(f"hydra.launcher.{key}{per}: no node of {where} has {asked} {unit}; the most "
                                    f"is {most}")  # fmt: skip
    fits = [n for n in part if all(getattr(n, field) >= asked for _, field, asked, _ in asks)]
    if not fits:
        keys = " ".join(key for key, *_ in asks)
        raise LaunchConfigError(f"hydra.launcher: {keys}: no single node of {where} has all of it")
    count = int(p.get("nodes") or 1)
    if count > len(fits):
        raise LaunchConfigError(f"hydra.launcher.nodes={count}: {where} has {len(fits)} node(s) that fit the request")


def launch_batch(launcher: Any, overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list:
    """One JobReturn per overrides entry, in order."""
    if not _is_submitit(launcher):
        return list(launcher.launch(overrides, initial_job_idx=initial_job_idx))
    jobs = _submit(launcher, overrides, initial_job_idx)
    return [_gather(job, list(o)) for job, o in zip(jobs, overrides)]


def _is_submitit(launcher: Any) -> bool:
    try:
        from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
    except ImportError:
        return False
    return isinstance(launcher, BaseSubmititLauncher)


def _submit(launcher: Any, overrides: Sequence[Sequence[str]], first: int) -> list:
    """The batch as one submitit array, with the launcher's settings (the launcher object is the job's
    callable, as in the plugin: its checkpoint() is what requeues a preempted job)."""
    import submitit
    from hydra.core.singleton import Singleton
    from omegaconf import OmegaConf

    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    cluster = launcher._EXECUTOR  # noqa: SLF001  ("slurm" or "local": the plugin's only per-class setting)
    settings = dict(launcher.params)
    folder = settings.pop("submitit_folder")
    timeouts = {f"{cluster}_max_num_timeout": settings.pop("max_num_timeout")} if "max_num_timeout" in settings else {}
    executor = submitit.AutoExecutor(cluster=cluster, folder=folder, **timeouts)
    common = set(OmegaConf.structured(BaseQueueConf).keys())  # keys submitit takes without the cluster prefix
    executor.update_parameters(**{k if k in common else f"{cluster}_{k}": v for k, v in settings.items()})
    Path(str(launcher.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    numbers = [first + i for i in range(len(overrides))]
    state = Singleton.get_state()
    return executor.map_array(
        launcher,
        [list(o) for o in overrides],
        ["hydra.sweep.dir"] * len(numbers),
        numbers,
        [f"job_id_for_{n}" for n in numbers],
        [state] * len(numbers),
    )


def _gather(job: Any, overrides: list[str]) -> Any:
    """The job's JobReturn, or a FAILED one whose return_value raises what ended it."""
    from hydra.core.utils import JobReturn, JobStatus
    from submitit.core.utils import FailedJobError, UncompletedJobError

    try:
        ret = job.results()[0]
    except UncompletedJobError as exc:
        _refresh(job)
        error: BaseException = JobInterrupted(_state(job), f"job {job.job_id} ended without a result ({_first(exc)})")
    except FailedJobError as exc:  # an error outside the task (the job's setup), or submitit's own end of it
        error = _not_requeued(job, exc) or exc
    else:
        inner = ret._return_value if ret.status == JobStatus.FAILED else None  # noqa: SLF001
        stopped = _not_requeued(job, inner) if isinstance(inner, UncompletedJobError) else None
        if stopped is None:
            return ret
        error = stopped
    return JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=error)


NOT_REQUEUED = "Job not requeued because"  # submitit's words when a time limit or preemption ends a job for good


def _not_requeued(job: Any, exc: BaseException) -> JobInterrupted | None:
    """A job that submitit ended at its time limit (or a preemption) without requeuing it: raised in the
    task (a FAILED JobReturn) or around it (FailedJobError), the scheduler calling it FAILED."""
    line = next((x.strip() for x in str(exc).splitlines() if NOT_REQUEUED in x), None)
    if line is None:
        return None
    state = "TIMEOUT" if "timed-out" in line else "PREEMPTED"
    return JobInterrupted(state, f"job {job.job_id} reached its end ({line[line.index(NOT_REQUEUED) :]})")


def _refresh(job: Any) -> None:
    """A fresh scheduler state: submitit reads sacct at growing intervals (2 s ... 10 min)."""
    update = getattr(getattr(job, "watcher", None), "update", None)
    if callable(update):
        try:
            update()
        except Exception:  # noqa: BLE001  (an unreachable sacct leaves the last state known)
            pass


def _state(job: Any) -> str:
    """The job's state as the scheduler names it (CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY...)."""
    state = str(job.state)
    return state.split()[0] if state.startswith("CANCELLED") else state


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
