"""lstm_ae.model.kernel: the decoder kernel is built once per machine, whatever the process, and a run never
stalls on a build: two processes racing build it once, a lock left by a killed build is cleared, and a
run that finds another build in progress waits a bounded time, then runs nn.LSTM and says so.

Each test uses a cache folder of its own (LSTM_AE_KERNEL_DIR), so the race test compiles for real."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, run_cli
from lstm_ae.model import kernel

LOAD = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
    "from lstm_ae.model import kernel\n"
    "wait = float(sys.argv[1]) if len(sys.argv) > 1 else None\n"
    "error = kernel.load(wait)\n"
    "import torch\n"
    "print('error:', error)\n"
    "print('ops:', error is None and hasattr(torch.ops.lstm_ae, 'lstm_recurrence_forward'))\n"
)


@pytest.fixture(autouse=True)
def compiler():
    if shutil.which(os.environ.get("CXX", "c++")) is None and os.environ.get("LSTM_AE_REQUIRE_KERNEL") != "1":
        pytest.skip("no C++ compiler: the decoder falls back to nn.LSTM")


def _env(cache) -> dict:
    return {**os.environ, "LSTM_AE_KERNEL_DIR": str(cache)}


def _folder(cache):
    out = subprocess.run(
        [sys.executable, "-c", "from lstm_ae.model import kernel; print(kernel.build_dir())"],
        env=_env(cache), cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


@pytest.mark.slow
def test_two_racing_processes_build_once_and_clear_a_killed_builds_lock(tmp_path):
    folder = tmp_path / "cache" / os.path.basename(_folder(tmp_path / "cache"))
    (folder / "torch_build").mkdir(parents=True)
    (folder / "torch_build" / "lock").write_text("")  # what a build killed mid-way leaves behind
    procs = [
        subprocess.Popen([sys.executable, "-c", LOAD], env=_env(tmp_path / "cache"), cwd=REPO, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=1800) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
        assert "error: None" in out and "ops: True" in out, out + err[-2000:]
    logs = [err for _, err in outs]
    assert sum("building the decoder's CPU kernel" in e for e in logs) == 1, logs
    assert sum("removed a build lock left by a killed kernel build" in e for e in logs) == 1
    assert (folder / "lstm_ae_recurrence.so").exists()
    again = subprocess.run([sys.executable, "-c", LOAD], env=_env(tmp_path / "cache"), cwd=REPO,
                           capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert "ops: True" in again.stdout and "building" not in again.stderr  # a later process only loads it


@pytest.mark.slow
def test_a_run_waits_a_bounded_time_for_another_build_then_uses_nn_lstm(tmp_path):
    cache = tmp_path / "cache"
    folder = cache / os.path.basename(_folder(cache))
    folder.mkdir(parents=True)
    with open(folder / "build.lock", "a") as held:  # another process is building
        fcntl.flock(held, fcntl.LOCK_EX)
        out = subprocess.run([sys.executable, "-c", LOAD, "1"], env=_env(cache), cwd=REPO,
                             capture_output=True, text=True, timeout=1800)  # fmt: skip
        assert "error: another process is still building the decoder kernel" in out.stdout, out.stderr[-2000:]
        assert "waiting for another process to build the decoder kernel" in out.stderr
        run = run_cli(
            "dataset.size=300", "trainer.epochs=1", "model.hidden=8", f"hydra.run.dir={tmp_path / 'run'}",
            cwd=tmp_path, env={"LSTM_AE_KERNEL_DIR": str(cache), "LSTM_AE_KERNEL_WAIT_S": "1"},
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    log = (tmp_path / "run" / "run.log").read_text()
    assert "decoder=nn.LSTM" in log and "another process is still building" in log


def test_the_cache_key_follows_source_flags_and_cpu(monkeypatch):
    base = kernel.key()
    assert kernel.key() == base  # stable: the same in every process, venv and clone
    monkeypatch.setattr(kernel, "FLAGS", [*kernel.FLAGS, "-DOTHER"])
    assert kernel.key() != base
    monkeypatch.undo()
    monkeypatch.setattr(kernel, "_cpu_ident", lambda: "another cpu")
    assert kernel.key() != base


def test_a_failed_build_is_reported_by_its_telling_line():
    ninja = RuntimeError(
        "Error building extension 'x': [1/2] c++ -c k.cpp -o k.o\nFAILED: k.o\nc++ -c k.cpp -o k.o\n"
        "/bin/sh: 1: c++: not found\nninja: build stopped: subcommand failed.\n"
    )
    assert kernel._reason(ninja) == "/bin/sh: 1: c++: not found"
    compile_error = RuntimeError("Error building extension 'x': [1/2] c++ ...\nk.cpp:3:1: error: expected ';'\n")
    assert kernel._reason(compile_error) == "k.cpp:3:1: error: expected ';'"


def test_build_command_builds_ahead_of_time(tmp_path):
    """python -m lstm_ae.model.kernel where / build, against the machine's shared cache (built by now)."""
    where = subprocess.run(
        [sys.executable, "-m", "lstm_ae.model.kernel", "where"], cwd=REPO, capture_output=True, text=True
    )
    assert where.returncode == 0 and kernel.key() in where.stdout
    build = subprocess.run([sys.executable, "-m", "lstm_ae.model.kernel", "build"], cwd=REPO, capture_output=True,
                           text=True, timeout=1800)  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    assert "decoder kernel ready in" in build.stdout
