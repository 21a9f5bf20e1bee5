"""Building and loading the decoder's C++ recurrence kernel (csrc/lstm_recurrence.cpp), once per
machine: one build per kernel source + compile flags + compiler + torch release + CPU, shared by every
virtual environment, clone and Python version on the machine.

    python -m lstm_ae.model.kernel build     # ahead of time (the README's first command does it)
    python -m lstm_ae.model.kernel where     # the cache folder and whether the build is there

The build lives in $LSTM_AE_KERNEL_DIR (default ~/.cache/lstm_ae/kernels/<key>/). A process that
finds it there loads it (milliseconds). One that does not takes the folder's lock (an flock, which
the system releases when its holder dies) and builds it with PyTorch's cpp_extension; a process
that finds the lock taken waits at most LSTM_AE_KERNEL_WAIT_S seconds (default 300) for the other
build, then goes on without the kernel (nn.LSTM) and says so. PyTorch's own build lock, left behind
by a build that was killed, is removed with a one-line note (we hold the folder's lock, so no live
build can own it).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE = Path(__file__).parent / "csrc" / "lstm_recurrence.cpp"
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp"]
WAIT_S = float(os.environ.get("LSTM_AE_KERNEL_WAIT_S", "300"))


def _cpu_ident() -> str:
    """This CPU's model and features: the build uses -march=native, so a cache shared between
    different machines (a cluster's home directory) must not hand one CPU another's build."""
    ident = platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        ident += "".join(sorted({ln for ln in lines if ln.startswith(("model name", "flags"))}))
    except OSError:
        ident += platform.processor()
    return ident


def _compiler() -> str:
    cxx = os.environ.get("CXX", "c++")
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout
        return out.splitlines()[0] if out else cxx
    except (OSError, subprocess.SubprocessError):
        return f"{cxx} (not found)"


def key() -> str:
    """What makes one build differ from another."""
    import torch

    parts = [
        hashlib.sha256(SOURCE.read_bytes()).hexdigest(),
        " ".join(FLAGS),
        _compiler(),
        torch.__version__,
        str(getattr(torch.version, "git_version", "")),
        _cpu_ident(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cache_root() -> Path:
    if os.environ.get("LSTM_AE_KERNEL_DIR"):
        return Path(os.environ["LSTM_AE_KERNEL_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lstm_ae" / "kernels"


def build_dir() -> Path:
    return cache_root() / key()


def _library(folder: Path) -> Path:
    return folder / "lstm_ae_recurrence.so"


@contextlib.contextmanager
def _folder_lock(folder: Path, wait_s: float):
    """Yields True holding the folder's lock, or False when another process held it for wait_s."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "build.lock", "a+") as fh:
        deadline = time.monotonic() + wait_s
        noted = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not noted:
                    log.info(
                        "waiting for another process to build the decoder kernel in %s (at most %.0f s)", folder, wait_s
                    )
                    noted = True
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.5)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load(wait_s: float | None = None) -> str | None:
    """Loads the kernel, building it first when this machine has no build yet. Returns None when it
    is loaded, else one line saying why not (no compiler, a build error, another build too slow)."""
    import torch

    folder = build_dir()
    library = _library(folder)
    try:
        if not library.exists():
            with _folder_lock(folder, WAIT_S if wait_s is None else wait_s) as locked:
                if not locked:
                    return f"another process is still building the decoder kernel in {folder}"
                if not library.exists():  # nobody built it while we waited
                    _build(folder)  # PyTorch's build also loads it into this process
                    return None
        torch.ops.load_library(str(library))
        return None
    except Exception as exc:  # no compiler, no headers, a build error, an unreadable cache
        return f"LSTM recurrence kernel unavailable ({_reason(exc)[:200]})"


def _build(folder: Path) -> None:
    from torch.utils.cpp_extension import load as cpp_load

    stale = folder / "torch_build" / "lock"  # PyTorch's FileBaton; only a killed build leaves it
    if stale.exists():
        stale.unlink()
        log.warning("removed a build lock left by a killed kernel build (%s)", stale)
    log.warning("building the decoder's CPU kernel once for this machine (10-60 s) in %s", folder)
    started = time.monotonic()
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # "no CUDA runtime": irrelevant
    (folder / "torch_build").mkdir(parents=True, exist_ok=True)
    path = cpp_load(
        name="lstm_ae_recurrence",
        sources=[str(SOURCE)],
        extra_cflags=FLAGS,
        extra_ldflags=["-fopenmp"],
        build_directory=str(folder / "torch_build"),
        is_python_module=False,
        verbose=os.environ.get("LSTM_AE_VERBOSE_BUILD") == "1",
    )
    tmp = folder / f".lstm_ae_recurrence.so.{os.getpid()}"
    shutil.copyfile(path, tmp)
    os.replace(tmp, _library(folder))  # appears whole or not at all for processes that do not lock
    log.warning("decoder kernel built in %.0f s", time.monotonic() - started)


def _reason(exc: Exception) -> str:
    """The telling line of a failed build (the compiler's error, "not found"), not ninja's command echo."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "not found" in line or ("error" in line.lower() and not line.startswith("Error building extension")):
            return line
    return lines[0] if lines else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lstm_ae.model.kernel", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("build", "where"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = build_dir()
    if args.command == "where":
        print(f"{folder} ({'built' if _library(folder).exists() else 'not built yet'})")
        return 0
    started = time.monotonic()
    error = load()
    if error:  # the kernel is optional: say why, and let an install script go on
        print(f"warning: {error}; runs will use nn.LSTM", file=sys.stderr)
        return 0
    print(f"decoder kernel ready in {folder} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
