"""Keep freed memory inside the process for the next training step (glibc's malloc).

Why: glibc serves large allocations (above 32 MiB always, smaller ones until its dynamic
threshold has grown) with fresh pages from mmap and returns them to the kernel on free. An
LSTM's per-batch buffers (gates and states of every step, T x B x 4H values; hundreds of MB
for 784-step pixel MNIST) are then re-faulted page by page on every training step: measured
here ~280,000 page faults and ~0.55 s of kernel time per pixel step, a third of its time.
With mmap and trimming off, freed blocks stay in the heap and are reused.

The price: the process's resident memory stays at its peak instead of shrinking between
steps. The setting is process-wide and cannot be undone (glibc's dynamic thresholds stay off),
so it is applied once, before training; elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger(__name__)

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
