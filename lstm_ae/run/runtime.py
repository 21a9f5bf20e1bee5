"""Process-wide runtime settings of a run, applied when it starts (never on import): OpenMP's wait
policy (read once, when torch loads), the number of CPU threads, and glibc's handling of freed memory.
Why each is chosen as it is, with the measurements: docs/speed.md."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import sys
import time

from lstm_ae.errors import ConfigError
from lstm_ae.machine import fits_in_memory, usable_cores

log = logging.getLogger(__name__)


SAMPLE_S = 0.2
BUSY_THRESHOLD = 0.5  # cores kept busy by others before we adapt


def _cpu_times(cpus: set[int]) -> tuple[int, int]:
    """(busy, total) jiffies over the given CPUs."""
    busy = total = 0
    with open("/proc/stat") as fh:
        for line in fh:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
                continue
            values = [int(v) for v in fields[:8]]
            idle = values[3] + values[4]  # idle + iowait
            busy += sum(values) - idle
            total += sum(values)
    return busy, total


_last_sample: tuple[float, float] | None = None  # (monotonic time, busy cores) of the last sample
REUSE_S = 5.0  # a sample this recent serves again (the import-time one serves the run that follows)


def busy_cores(sample_s: float = SAMPLE_S, reuse_s: float = 0.0) -> float:
    """How many of this process's cores other processes keep busy right now (0 where unknown);
    a sample taken less than reuse_s ago is returned instead of sampling again."""
    global _last_sample
    if _last_sample is not None and time.monotonic() - _last_sample[0] < reuse_s:
        return _last_sample[1]
    try:
        cpus = os.sched_getaffinity(0)
        b0, t0 = _cpu_times(cpus)
        time.sleep(sample_s)
        b1, t1 = _cpu_times(cpus)
    except (AttributeError, OSError, ValueError):
        return 0.0
    busy = len(cpus) * (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    _last_sample = (time.monotonic(), busy)
    return busy


def set_wait_policy() -> None:
    """When a run starts, before torch is imported: PASSIVE OpenMP threads when other processes keep
    cores busy. An OMP_WAIT_POLICY of the user's wins; LSTM_AE_AUTO_WAIT_POLICY=0 leaves libgomp's
    default; once torch is loaded OpenMP has read the policy, so nothing changes."""
    if os.environ.get("LSTM_AE_AUTO_WAIT_POLICY") == "0" or "torch" in sys.modules:
        return
    if "OMP_WAIT_POLICY" not in os.environ and busy_cores() >= BUSY_THRESHOLD:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def check_machine(model_cfg, process_cfg) -> None:
    """What a run asks of the machine it runs on, before anything is allocated: threads within the cores
    this process may use (more only slow every process down), and the model's weights and gradients
    within the memory available. One-line ConfigError otherwise."""
    cores = usable_cores()
    if process_cfg.threads > cores:
        raise ConfigError(
            f"process.threads={process_cfg.threads} is more than the {cores} core(s) this process may use; "
            f"allowed: 0 (chosen from the free cores) or 1 to {cores}"
        )
    too_big = fits_in_memory(8 * model_cfg.min_parameters(), f"model.hidden={model_cfg.hidden} (weights and gradients)")
    if too_big:
        raise ConfigError(f"{too_big}; choose a smaller model.hidden")


def auto_threads(parallel_trials: int = 1) -> tuple[int, str]:
    """Threads for a run that set none, and a warning when other processes take cores ("" if not)."""
    cores = usable_cores()
    share = max(1, cores // max(1, parallel_trials))
    busy = busy_cores(reuse_s=REUSE_S)
    if busy < BUSY_THRESHOLD:
        return share, ""
    free = max(1, cores - round(busy))
    threads = min(share, free)
    return threads, (
        f"other processes keep {busy:.1f} of this process's {cores} cores busy: training with {threads} "
        "thread(s) (process.threads sets it)"
    )


class OtherLoad:
    """How many of this process's cores other processes kept busy since the last reading, without
    sleeping: the busy time of those cores minus this process's own CPU time (all its threads)."""

    def __init__(self) -> None:
        self.cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.last = self._read()

    def _read(self) -> tuple[float, float, float] | None:
        try:
            busy, _ = _cpu_times(self.cpus)
        except (OSError, ValueError):
            return None
        own = os.times()
        return time.monotonic(), busy / self.hz, own.user + own.system

    def cores(self) -> float | None:
        """Cores other processes kept busy since the previous call (None where /proc/stat is unreadable)."""
        now, before = self._read(), self.last
        self.last = now
        if now is None or before is None or now[0] - before[0] <= 0:
            return None
        others = (now[1] - before[1]) - (now[2] - before[2])
        return max(0.0, others / (now[0] - before[0]))


class ThreadGovernor:
    """For a run that set no process.threads: every `every_s` seconds of training (between steps, so
    inside long epochs too) the other processes' load is read again and torch's thread count follows
    it: the share of the cores when they are free, the cores the others leave (at least 1) when they
    are not, since one spinning thread on a taken core costs up to 20x (docs/speed.md). One log line
    per change; the thread count of each epoch is in metrics.csv."""

    def __init__(self, share: int, every_s: float = 2.0) -> None:
        self.share, self.every_s = share, every_s
        self.load = OtherLoad()
        self.due = time.monotonic() + every_s

    def wanted(self, others: float) -> int:
        if others < BUSY_THRESHOLD:
            return self.share
        return max(1, min(self.share, len(self.load.cpus) - round(others)))

    def __call__(self) -> None:
        now = time.monotonic()
        if now < self.due:
            return
        self.due = now + self.every_s
        others = self.load.cores()
        if others is None:
            return
        import torch

        threads, current = self.wanted(others), torch.get_num_threads()
        if threads != current:
            torch.set_num_threads(threads)
            log.info(
                "other processes now keep %.1f core(s) busy: training with %d thread(s) instead of %d",
                others,
                threads,
                current,
            )


# glibc's malloc: keep freed memory inside the process for the next training step

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
M_MMAP_MAX = -4
_applied = False


def supported() -> bool:
    """Whether this process's C library is glibc, whose mallopt settings these are."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_freed_memory() -> bool:
    """Turn off mmap-backed allocations and heap trimming; True when in effect."""
    global _applied
    if _applied:
        return True
    if not supported():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, -1) == 1
    except (OSError, AttributeError):
        return False
    _applied = ok
    if not ok:
        log.warning("mallopt refused the settings; freed memory goes back to the OS as usual")
    return ok


def is_applied() -> bool:
    return _applied
