"""lstm_ae.run.runtime: freed memory is reused instead of being page-faulted back every step."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import run_cli
from lstm_ae.run import runtime as allocator

PROBE = """
import resource, sys
import torch
if sys.argv[1] == "keep":
    from lstm_ae.run.runtime import keep_freed_memory
    assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(12):  # warm-up: the first blocks fault in either way, and aligned allocations
    torch.ones(64 * 2**18)  # leave a few gaps in the heap before freed blocks fit (64 MiB: above
                            # glibc's largest mmap threshold)
before = faults()
for _ in range(10):
    torch.ones(64 * 2**18)  # allocate, touch every page, free: one training step's workspace
print((faults() - before) / 10)
"""


@pytest.mark.skipif(not allocator.supported(), reason="the setting is glibc's (mallopt)")
def test_keep_freed_memory_stops_refaulting_a_freed_workspace():
    """A 64 MiB buffer allocated and freed ten times: by default glibc mmaps and unmaps it each time,
    so every one of its 16,384 pages faults again; with the setting the freed block is reused."""

    def faults_per_alloc(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
        return float(out.stdout.strip())

    pages = 64 * 2**20 / 4096
    assert faults_per_alloc("default") > 0.9 * pages
    assert faults_per_alloc("keep") < 0.02 * pages


@pytest.mark.parametrize("setting, logged", [(None, "keep_freed_memory=True"), ("false", "keep_freed_memory=False")])
def test_runs_apply_the_setting_unless_turned_off(tmp_path, setting, logged):
    """On by default in every run (the log says so), off with process.keep_freed_memory=false."""
    override = [f"process.keep_freed_memory={setting}"] if setting else []
    proc = run_cli(
        "dataset=toy", "dataset.size=300", "model.hidden=4", "trainer.epochs=1", *override,
        f"hydra.run.dir={tmp_path}/run", cwd=tmp_path, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    log_text = (tmp_path / "run" / "run.log").read_text()
    if allocator.supported():
        assert logged in log_text
    else:  # nothing to turn on elsewhere
        assert "keep_freed_memory=False" in log_text
