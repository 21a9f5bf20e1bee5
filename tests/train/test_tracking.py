"""lstm_ae.train.tracking for real: a run writes TensorBoard event files that TensorBoard's own reader loads (the
scalars of metrics.csv, step losses, a reconstruction image per epoch); without tensorboard it writes none
and says nothing; a progress bar appears on a terminal (a real pseudo-terminal) and never in logs."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them

TOY = ["dataset=toy", "dataset.size=600", "model.hidden=8", "trainer.batch_size=64"]  # 360 sequences: 6 steps of 64


def events(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def steps_and_values(acc, tag: str) -> tuple[list[int], list[float]]:
    scalars = acc.Scalars(tag)
    return [s.step for s in scalars], [s.value for s in scalars]


def test_run_writes_event_files_tensorboard_reads(tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    proc = run_cli(*TOY, "trainer.epochs=2", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(out.glob("events.out.tfevents.*"))
    acc = events(out)
    metrics = pd.read_csv(out / "metrics.csv")
    tags = set(acc.Tags()["scalars"])
    expected = {"loss/train", "loss/val", "recon/train", "recon/val", "optim/lr", "grad_norm/mean", "grad_norm/max",
                "grad_norm/clipped_frac", "time/epoch_s", "step/loss"}  # fmt: skip
    assert expected <= tags, tags
    for tag, column in (("loss/val", "val_loss"), ("loss/train", "train_loss"), ("grad_norm/max", "grad_norm_max")):
        steps, values = steps_and_values(acc, tag)
        assert steps == [1, 2]
        assert values == pytest.approx(metrics[column].tolist(), rel=1e-6)  # float32 in the event file
    steps, _ = steps_and_values(acc, "step/loss")
    assert steps == list(range(1, 2 * 6 + 1))  # every optimizer step of both epochs
    images = acc.Images("reconstruction")
    assert [i.step for i in images] == [1, 2]
    assert images[0].encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n" and images[0].width > 100

    # resumed with more epochs: the same event series goes on, no step twice
    proc = run_cli(*TOY, "trainer.epochs=3", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    acc = events(out)
    assert steps_and_values(acc, "loss/val")[0] == [1, 2, 3]
    assert steps_and_values(acc, "step/loss")[0] == list(range(1, 3 * 6 + 1))


def test_classification_run_logs_accuracy_and_image_reconstructions(tmp_path, mnist_root):
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    proc = run_cli(
        "experiment=mnist_classify", f"dataset.root={mnist_root}", "dataset.train_subset=1024", "dataset.val_size=256",
        "dataset.test_subset=256", "trainer.epochs=2", "model.hidden=16", f"hydra.run.dir={out}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    acc = events(out)
    metrics = pd.read_csv(out / "metrics.csv")
    assert {"acc/train", "acc/val", "ce/val", "optim/lr"} <= set(acc.Tags()["scalars"])
    steps, values = steps_and_values(acc, "acc/val")
    assert steps == [1, 2] and values == pytest.approx(metrics["val_acc"].tolist(), rel=1e-6)
    lrs = steps_and_values(acc, "optim/lr")[1]
    assert lrs == pytest.approx(metrics["lr"].tolist(), rel=1e-6) and lrs[0] != lrs[1]  # one-cycle schedule
    assert [i.step for i in acc.Images("reconstruction")] == [1, 2]


def test_without_tensorboard_no_events_and_nothing_said(tmp_path):
    out = tmp_path / "run"
    code = (
        "import sys, runpy; sys.modules['tensorboard'] = None; "  # as if it were not installed
        f"sys.argv = ['run.py', *{[*TOY, 'trainer.epochs=1', f'hydra.run.dir={out}']!r}]; "
        "runpy.run_path('run.py', run_name='__main__')"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(out.glob("events.out.tfevents.*"))
    said = (proc.stdout + proc.stderr).replace(str(tmp_path), "<tmp>")
    assert "tensorboard" not in said.lower()
    assert (out / "metrics.csv").exists()


def run_in_pty(argv: list[str], timeout: float = 1800) -> str:
    """Run argv with stdin/stdout/stderr on a new pseudo-terminal (as in a terminal); return what it printed."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 rows, 120 columns
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TERM": "xterm", "COLUMNS": "120"}
    proc = subprocess.Popen(argv, cwd=REPO, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout  # a hang guard only
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.kill() if proc.poll() is None else None
    proc.wait()
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_only(tmp_path):
    shown = run_in_pty([sys.executable, "run.py", *TOY, "trainer.epochs=2", f"hydra.run.dir={tmp_path / 'tty'}"])
    assert "step/s" in shown or "s/step" in shown, shown[-2000:]  # tqdm's rate
    assert "12/12" in shown  # 2 epochs x 6 steps, finished
    assert "epoch 2/2 train_loss" in shown  # the per-epoch log lines stay
    assert "12/12" not in (tmp_path / "tty" / "run.log").read_text()  # the bar is on the terminal only
    logged = run_cli(*TOY, "trainer.epochs=2", f"hydra.run.dir={tmp_path / 'log'}")
    assert logged.returncode == 0
    assert "epoch 2/2 train_loss" in logged.stdout + logged.stderr
    assert "step/s" not in logged.stdout + logged.stderr and "s/step" not in logged.stdout + logged.stderr
    assert "12/12" not in (tmp_path / "log" / "run.log").read_text()


def test_fit_shows_progress_on_a_terminal(tmp_path):
    code = (
        "import numpy as np; from lstm_ae import fit; "
        f"m = fit(np.random.default_rng(0).random((128, 20, 1)), hidden=4, epochs=2, out={str(tmp_path / 'fit')!r}); "
        "print('encoded', m.encode(np.zeros((2, 20, 1))).shape)"
    )
    shown = run_in_pty([sys.executable, "-c", code])
    assert "encoded (2, 4)" in shown, shown[-2000:]
    assert "step/s" in shown or "s/step" in shown, shown[-2000:]
