"""What a run shows while it trains, beside run.log and metrics.csv:

- TensorBoard event files in the run folder, when the `tensorboard` package is installed
  (`pip install -e ".[tensorboard]"`), so `tensorboard --logdir multirun/<sweep>` compares the trials:
  per epoch (x = epoch) loss/train, loss/val and the task's parts the same way (recon, acc, pred, ce),
  optim/lr, grad_norm/mean, grad_norm/max, grad_norm/clipped_frac, time/epoch_s and an image
  `reconstruction` (the first validation sequences and their reconstructions); per training step
  (x = step since the start) step/loss, every step or, in epochs of more than 100 steps, every k-th
  (about 50 points per epoch).
- A progress bar over the training steps (tqdm) when stderr is a terminal or a notebook runs us; log
  lines are printed above it. In logs and pipes nothing changes.

Each part is off, silently, when unavailable. The Trainer calls Tracker.step after every optimizer
step, Tracker.epoch_end after each epoch's checkpoint and Tracker.close when it returns.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import torch

STEP_POINTS = 50  # step/loss: at most about this many points per epoch (each costs ~0.1 ms)
TAGS = {"lr": "optim/lr", "grad_norm": "grad_norm/mean", "grad_norm_max": "grad_norm/max",
        "clipped_frac": "grad_norm/clipped_frac", "epoch_time_s": "time/epoch_s"}  # fmt: skip


def interactive() -> bool:
    """A person watches: stderr is a terminal, or an IPython kernel (a notebook) runs us."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def tag_of(key: str) -> str | None:
    """The TensorBoard tag of a metrics.csv column: train_loss -> loss/train, lr -> optim/lr."""
    for split in ("train", "val"):
        if key.startswith(split + "_"):
            return f"{key[len(split) + 1 :]}/{split}"
    return TAGS.get(key)


def _summary_writer(run_dir: Path, purge_step: int):
    try:
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(run_dir), purge_step=purge_step)


ORIGINAL, RECONSTRUCTION = (31, 119, 180), (255, 127, 14)  # blue and orange, as in the run's figures


def _draw_line(canvas: np.ndarray, values: np.ndarray, color: tuple[int, int, int]) -> None:
    """values in [0, 1], one per column, drawn as a connected line on an (H, W, 3) canvas."""
    h = canvas.shape[0]
    rows = np.round((1 - np.clip(values, 0, 1)) * (h - 1)).astype(int)
    for c in range(len(rows)):
        lo, hi = sorted((rows[c], rows[min(c + 1, len(rows) - 1)]))
        canvas[lo : hi + 1, c] = color


def reconstruction_image(x: np.ndarray, recon: np.ndarray, height: int = 60, gap: int = 6) -> np.ndarray:
    """An (H, W, 3) uint8 picture of a few sequences (values in [0, 1]) and their reconstructions, drawn with
    numpy (milliseconds, no plotting library): for one feature per step, one panel per sequence with the
    original (blue) and the reconstruction (orange) as lines; for several features, original | reconstruction
    as gray images (steps as rows, features as columns, enlarged 4x)."""
    if x.shape[-1] == 1:
        width = max(x.shape[1], min(4 * x.shape[1], 800))
        grid = np.linspace(0, x.shape[1] - 1, width)
        panels = []
        for a, b in zip(x[..., 0], recon[..., 0]):
            canvas = np.full((height, width, 3), 255, dtype=np.uint8)
            _draw_line(canvas, np.interp(grid, np.arange(len(a)), a), ORIGINAL)
            _draw_line(canvas, np.interp(grid, np.arange(len(b)), b), RECONSTRUCTION)
            panels += [canvas, np.full((gap, width, 3), 200, dtype=np.uint8)]
        return np.concatenate(panels[:-1])
    pairs = []
    for a, b in zip(x, recon):
        pair = np.concatenate([a, np.ones((a.shape[0], 1)), b], axis=1)
        pairs += [pair, np.ones((1, pair.shape[1]))]
    gray = (np.clip(np.concatenate(pairs[:-1]), 0, 1) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    return np.stack([gray] * 3, axis=-1)


class Tracker:
    """TensorBoard events and a progress bar for one run folder; both optional (see the module)."""

    def __init__(self, run_dir: Path, *, tensorboard: bool = True, progress: bool | None = None, n_images: int = 3):
        self.run_dir = Path(run_dir)
        self.tensorboard = tensorboard
        self.progress = interactive() if progress is None else progress
        self.n_images = n_images
        self.writer = None
        self.bar = None
        self._opened = False
        self._exit = contextlib.ExitStack()
        self._last_postfix = 0.0

    def _open(self, global_step: int, total_steps: int, initial: int) -> None:
        """On the first step: the event writer (purging steps an interrupted session wrote after the
        checkpoint it resumes from) and the bar."""
        self._opened = True
        if self.tensorboard:
            self.writer = _summary_writer(self.run_dir, purge_step=global_step)
        if self.progress:
            try:
                from tqdm.auto import tqdm
                from tqdm.contrib.logging import logging_redirect_tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total_steps, initial=initial, unit="step", dynamic_ncols=True, file=sys.stderr)
            self._exit.enter_context(logging_redirect_tqdm())  # log lines above the bar, not through it

    def step(self, epoch: int, epochs: int, step: int, steps: int, loss: float) -> None:
        global_step = (epoch - 1) * steps + step
        if not self._opened:
            self._open(global_step, epochs * steps, global_step - 1)
        if self.writer is not None and step % max(1, steps // STEP_POINTS) == 0:
            self.writer.add_scalar("step/loss", loss, global_step)
        if self.bar is not None:
            now = time.monotonic()
            if step == 1 or now - self._last_postfix >= 0.5:
                self._last_postfix = now
                self.bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
                self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            self.bar.update(1)

    def epoch_end(self, row: dict, model: torch.nn.Module, task, val) -> None:
        """row: the epoch's metrics.csv row; model, task, val: for the reconstruction image."""
        epoch = int(row["epoch"])
        if self.bar is not None:
            shown = {k: f"{v:.4g}" for k, v in row.items() if k in ("train_loss", "val_loss", "val_acc")}
            self.bar.set_postfix(shown)
        if self.writer is None:
            return
        for key, value in row.items():
            tag = tag_of(key)
            if tag is not None:
                self.writer.add_scalar(tag, value, epoch)
        if self.n_images and len(val):
            x = val.x[: self.n_images].to(next(model.parameters()).device)
            was_training = model.training
            model.eval()
            with torch.inference_mode():
                inp, _ = task.split_batch(x)
                recon = model(inp).recon
            model.train(was_training)
            image = reconstruction_image(inp.float().cpu().numpy(), recon.float().cpu().numpy())
            self.writer.add_image("reconstruction", image, epoch, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._exit.close()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
