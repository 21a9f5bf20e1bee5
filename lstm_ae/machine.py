"""What this machine offers a process: the cores it may use and the memory still available.
Read where a run starts (threads, memory checks), never on import."""

from __future__ import annotations

import os

GIB = 2**30


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask: a SLURM job's or a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux MemAvailable, capped by a cgroup limit); None
    where unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            text = fh.read().strip()
        if text != "max":
            with open("/sys/fs/cgroup/memory.current") as fh:
                left = int(text) - int(fh.read().strip())
            avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass
    return avail


def fits_in_memory(needed: int, what: str) -> str:
    """'' when `needed` bytes fit in the memory available now, else a one-line reason naming `what`."""
    avail = available_memory()
    if avail is None or needed <= avail:
        return ""
    return f"{what} needs at least {needed / GIB:,.1f} GiB of memory; this machine has {avail / GIB:,.1f} GiB available"
