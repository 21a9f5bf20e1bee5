"""How the sweep hands a batch of trials to Hydra's launcher and gets one JobReturn per trial back.

hydra-submitit-launcher's own launch() waits for its jobs in order and raises at the first that ended
without a result (scancel, a time limit, a failed node, the OOM killer), losing the batch. For its
launchers (submitit_slurm, submitit_local) the batch is submitted here the same way and each job is
gathered on its own: a job without a result comes back as a FAILED JobReturn whose return_value raises
JobInterrupted, naming the scheduler's state; the sweep records that trial as FAIL with the state as
its reason, and the next invocation of the same command runs it again (from its checkpoint).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class JobInterrupted(RuntimeError):
    """A job that ended without a result: the scheduler's state (CANCELLED, TIMEOUT, NODE_FAIL,
    OUT_OF_MEMORY...) and which job it was."""

    def __init__(self, state: str, detail: str = "") -> None:
        self.state = state
        super().__init__(f"{state}: {detail}" if detail else state)


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
        return job.results()[0]
    except UncompletedJobError as exc:
        error: BaseException = JobInterrupted(
            str(job.state), f"job {job.job_id} ended without a result ({_first(exc)})"
        )
    except FailedJobError as exc:  # an error outside the task (the job's setup): a failed trial
        error = exc
    return JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=error)


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
