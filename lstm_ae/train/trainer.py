"""The training loop: plain PyTorch, whole splits as tensors, batches by indexing.

It knows nothing of a particular dataset or task: a task turns a batch into a loss, the
loop steps the optimizer, checks for divergence, evaluates, checkpoints and reports.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lstm_ae.artifacts import load_checkpoint, save_torch, write_csv
from lstm_ae.config import SchedulerConfig, TrainerConfig
from lstm_ae.data.base import Split
from lstm_ae.errors import ConfigError, first_line
from lstm_ae.files import BEST_CKPT, LAST_CKPT, METRICS, RunStatus
from lstm_ae.train.tasks import Task
from lstm_ae.train.tracking import Tracker

log = logging.getLogger(__name__)


class Diverged(RuntimeError):
    """The loss, the gradient or the update became NaN or infinite."""


@dataclass
class TrainOutcome:
    status: RunStatus
    epochs_run: int
    best_epoch: int | None
    best_objective: float | None
    history: list[dict] = field(default_factory=list)
    reason: str = ""


@dataclass
class LoopState:
    """Where the epoch loop stands: what resume restores and every epoch updates."""

    history: list[dict] = field(default_factory=list)
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    start_epoch: int = 1


def resolve_device(name: str) -> torch.device:
    """trainer.device: auto (CUDA when present, else CPU), cpu, cuda or cuda:N; ConfigError when absent."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"trainer.device={name!r} is not a device; allowed: auto, cpu, cuda, cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"trainer.device={name}: no CUDA device on this machine; use trainer.device=auto or cpu")
        if device.index is not None and device.index >= count:
            raise ConfigError(
                f"trainer.device={name}: this machine has {count} CUDA device(s) (cuda:0 to cuda:{count - 1})"
            )
    return device


_BF16_LSTM: dict[str, bool] = {}


def effective_precision(device: torch.device, precision: str) -> str:
    """The precision a run really uses: bf16 only where the device runs an LSTM in bf16. oneDNN's CPU
    LSTM needs AVX-512 for bf16; on other CPUs (AVX2 laptops) bf16 falls back to fp32, with one warning."""
    if precision != "bf16":
        return precision
    if device.type not in _BF16_LSTM:
        try:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                torch.nn.LSTM(2, 2, batch_first=True).to(device)(torch.zeros(1, 2, 2, device=device))
            _BF16_LSTM[device.type] = True
        except RuntimeError as exc:
            _BF16_LSTM[device.type] = False
            log.warning(
                "trainer.precision=bf16: this %s cannot run an LSTM in bf16 (%s); running in fp32",
                device.type,
                first_line(exc, 120),
            )
    return "bf16" if _BF16_LSTM[device.type] else "fp32"


def autocast_context(device: torch.device, precision: str):
    if effective_precision(device, precision) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


@torch.inference_mode()
def score_split(model, task: Task, split: Split, device, precision: str, batch_size: int) -> dict[str, float]:
    """Mean loss and loss parts over a split, in large batches without gradients."""
    model.eval()
    totals: dict[str, float] = {}
    n = len(split)
    for start in range(0, n, batch_size):
        x = split.x[start : start + batch_size].to(device, non_blocking=True)
        y = split.y[start : start + batch_size].to(device) if split.y is not None else None
        with autocast_context(device, precision):
            loss, parts = task.loss(model, x, y)
        weight = x.shape[0]
        totals["loss"] = totals.get("loss", 0.0) + float(loss) * weight
        for key, value in parts.items():
            totals[key] = totals.get(key, 0.0) + float(value) * weight
    return {key: value / n for key, value in totals.items()}


SCHEDULE_CHECK_STEPS = 1000  # schedules over at most this many steps are played through before training
GPU_DATA_FRACTION = 0.25  # a split is moved to the GPU when it takes at most this part of its free memory


def on_device_if_it_fits(split: Split, device: torch.device) -> Split:
    """The split moved to an accelerator once, when it fits easily, so batches are indexed there instead
    of copied from host memory at every step; on the CPU (or when it does not fit) the split as it is."""
    if device.type != "cuda" or split.x.device == device:
        return split
    size = split.x.numel() * split.x.element_size() + (split.y.numel() * 8 if split.y is not None else 0)
    free, _ = torch.cuda.mem_get_info(device)
    if size > GPU_DATA_FRACTION * free:
        log.info("keeping a %.0f MB split in host memory (%.0f MB free on %s)", size / 2**20, free / 2**20, device)
        return split
    y = split.y.to(device) if split.y is not None else None
    return Split(split.x.to(device), y, split.meta)


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    """One reduction over all tensors (their norm is inf or nan when any element is)."""
    return bool(torch.isfinite(torch.nn.utils.get_total_norm(tensors)))


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Trainer:
    """Trains one model on one dataset for one task, writing metrics and checkpoints."""

    def __init__(
        self,
        model: torch.nn.Module,
        task: Task,
        optimizer_factory: Callable,
        scheduler_cfg: SchedulerConfig | None,
        run_dir: Path,
        cfg: TrainerConfig,
        *,
        seed: int | None = None,
        epoch_callbacks: list[Callable[[int, float], None]] | None = None,
        tracker: Tracker | None = None,
        pace: Callable[[], None] | None = None,
    ) -> None:
        """cfg: the validated trainer section (lstm_ae.config.TrainerConfig); seed overrides cfg.seed
        (cross-validation folds); epoch_callbacks(epoch, objective) run after each epoch and may raise;
        tracker: TensorBoard events and progress bar (default: lstm_ae.train.tracking.Tracker of run_dir);
        pace() runs between training steps (the run's thread governor: lstm_ae.run.runtime)."""
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)
        self.task = task
        self.params = list(self.model.parameters())
        self.optimizer = optimizer_factory(self.params)
        self.scheduler_cfg = scheduler_cfg
        self.run_dir = Path(run_dir)
        self.grad_clip = cfg.grad_clip or None
        self.epoch_callbacks = epoch_callbacks or []
        self.pace = pace
        self.tracker = tracker if tracker is not None else Tracker(self.run_dir)
        self.shuffle_gen = torch.Generator().manual_seed(cfg.seed if seed is None else seed)
        self.scheduler = None
        self.scheduler_interval = "epoch"

    # -- scheduler -------------------------------------------------------------------------
    def build_scheduler(self, steps_per_epoch: int) -> None:
        """The configured scheduler, sized for self.cfg.epochs epochs of steps_per_epoch steps."""
        if self.scheduler_cfg is None or self.scheduler_cfg.factory is None:
            return
        factory = self.scheduler_cfg.factory
        self.scheduler_interval = self.scheduler_cfg.interval
        extra = {}
        if self.scheduler_cfg.needs_total_steps:
            extra["total_steps"] = total = self.cfg.epochs * steps_per_epoch
            # a schedule over few steps can divide by a zero-length phase (OneCycleLR at 4 steps): play
            # short ones through on a throw-away optimizer first (~0.1 s), so that is one line before training
            dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=self.optimizer.param_groups[0]["lr"])
            try:
                trial = factory(dummy, **extra)
                for _ in range(total if total <= SCHEDULE_CHECK_STEPS else 0):
                    dummy.step()
                    trial.step()
            except (ZeroDivisionError, ValueError) as exc:
                raise ConfigError(
                    f"scheduler: {type(exc).__name__} ({exc}) over {total} steps ({self.cfg.epochs} epoch(s) of "
                    f"{steps_per_epoch}); give it more steps (trainer.epochs, more data, a smaller "
                    "trainer.batch_size) or another scheduler"
                ) from None
        self.scheduler = factory(self.optimizer, **extra)

    def _scheduler_step(self, when: str, val_objective: float | None = None) -> None:
        if self.scheduler is None or when != self.scheduler_interval:
            return
        if self.scheduler_cfg.monitor:
            self.scheduler.step(val_objective)
        else:
            self.scheduler.step()

    # -- checkpoints -----------------------------------------------------------------------
    def _state(
        self, epoch: int, best: float | None, best_epoch: int | None, bad_epochs: int, history: list[dict]
    ) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": epoch,
            "best_objective": best,
            "best_epoch": best_epoch,
            "bad_epochs": bad_epochs,
            "history": history,
            "rng_torch": torch.get_rng_state(),
            "rng_shuffle": self.shuffle_gen.get_state(),
        }

    def _try_resume(self) -> dict | None:
        path = self.run_dir / LAST_CKPT
        if not (self.cfg.resume and path.exists()):
            return None
        try:
            state = load_checkpoint(path)
        except ValueError:
            raise ConfigError(
                f"{path} is not a readable checkpoint (corrupt, or not written by lstm-ae); "
                "start over with trainer.resume=false, or delete the file"
            ) from None
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"{path} holds a run with a different model or optimizer ({first_line(exc, 120)}); "
                "use a new output folder or trainer.resume=false"
            ) from None
        if self.scheduler is not None and state.get("scheduler") is not None:
            self._resume_schedule(state["scheduler"])
        torch.set_rng_state(state["rng_torch"])
        self.shuffle_gen.set_state(state["rng_shuffle"])
        log.info("resuming from %s after epoch %d", path, state["epoch"])
        return state

    def _resume_schedule(self, saved: dict) -> None:
        """The saved schedule's state; when it spanned another number of steps (a rerun with more epochs),
        the new schedule is played forward to the step the run had reached instead."""
        total = getattr(self.scheduler, "total_steps", None)
        if total is None or saved.get("total_steps", total) == total:
            self.scheduler.load_state_dict(saved)
            return
        done = int(saved.get("last_epoch", 0))
        log.warning(
            "the schedule now spans %d steps (was %d): continuing it from step %d", total, saved["total_steps"], done
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stepping a scheduler without an optimizer step
            for _ in range(min(done, total)):
                self.scheduler.step()

    # -- one step, one epoch -----------------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, dict, float]:
        """One optimizer step on a batch: (loss, loss parts, gradient norm before clipping).
        Raises Diverged when the loss, the gradient norm or the update is no longer finite."""
        with autocast_context(self.device, self.cfg.precision):
            loss, parts = self.task.loss(self.model, x, y)
        if not torch.isfinite(loss):
            raise Diverged(f"loss became {float(loss.detach())}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = self.grad_clip if self.grad_clip else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.params, max_norm))
        if not math.isfinite(norm):
            raise Diverged(f"gradient norm became {norm}")
        try:
            self.optimizer.step()
        except RuntimeError as exc:  # e.g. a for-each optimizer finds lr * grad overflowing float32
            if "overflow" not in str(exc):
                raise
            raise Diverged("optimizer step overflowed (learning rate too large?)") from None
        if not _all_finite(self.params):  # fused optimizers write an overflowing update instead (~50 µs)
            raise Diverged("optimizer step overflowed: the weights are no longer finite (learning rate too large?)")
        self._scheduler_step("step")
        return loss, parts, norm

    def train_epoch(self, train: Split, epoch: int) -> tuple[dict[str, float], dict[str, float]]:
        """One shuffled pass over train, logging progress in long
        epochs: (mean loss and parts per sample, gradient statistics: mean and largest norm before
        clipping, and the fraction of steps trainer.grad_clip clipped). Raises Diverged naming the step."""
        self.model.train()
        n = len(train)
        steps_per_epoch = math.ceil(n / self.cfg.batch_size)
        perm = torch.randperm(n, generator=self.shuffle_gen)
        sums: dict[str, float] = {}
        grad_norm_sum, grad_norm_max, clipped, seen, steps = 0.0, 0.0, 0, 0, 0
        t0 = last_log = time.perf_counter()
        for step, start in enumerate(range(0, n, self.cfg.batch_size), 1):
            idx = perm[start : start + self.cfg.batch_size].to(train.x.device)  # on the GPU when the data are
            x = train.x[idx].to(self.device, non_blocking=True)
            y = train.y[idx].to(self.device) if train.y is not None else None
            try:
                loss, parts, norm = self.train_step(x, y)
            except Diverged as exc:
                raise Diverged(f"{exc} at epoch {epoch}, step {step}") from None
            weight = x.shape[0]
            seen, steps = seen + weight, steps + 1
            grad_norm_sum += norm
            grad_norm_max = max(grad_norm_max, norm)
            clipped += bool(self.grad_clip) and norm > self.grad_clip
            loss_value = float(loss.detach())
            if self.pace is not None:
                self.pace()
            sums["loss"] = sums.get("loss", 0.0) + loss_value * weight
            self.tracker.step(epoch, self.cfg.epochs, step, steps_per_epoch, loss_value)
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + float(value) * weight
            now = time.perf_counter()
            if now - last_log >= self.cfg.log_every_s:
                last_log = now
                eta = (now - t0) / step * (steps_per_epoch - step)
                log.info(
                    "epoch %d/%d step %d/%d loss %.5f (epoch ETA %s)",
                    epoch,
                    self.cfg.epochs,
                    step,
                    steps_per_epoch,
                    sums["loss"] / seen,
                    _fmt_time(eta),
                )
        grads = {
            "grad_norm": grad_norm_sum / max(1, steps),
            "grad_norm_max": grad_norm_max,
            "clipped_frac": clipped / max(1, steps),
        }
        return {k: v / max(1, seen) for k, v in sums.items()}, grads

    # -- the loop --------------------------------------------------------------------------
    def fit(self, train: Split, val: Split) -> TrainOutcome:
        """Train for cfg.epochs epochs (from last.pt when resuming), keeping the best epoch's weights in
        best.pt; stop early on divergence, early stopping or the time budget."""
        self.build_scheduler(math.ceil(len(train) / self.cfg.batch_size))
        train, val = on_device_if_it_fits(train, self.device), on_device_if_it_fits(val, self.device)
        loop = self._resumed_loop()
        try:
            status, reason = self._run_epochs(train, val, loop)
        finally:
            self.tracker.close()
        epochs_run = loop.history[-1]["epoch"] if loop.history else 0
        return TrainOutcome(status, epochs_run, loop.best_epoch, loop.best, loop.history, reason)

    def _resumed_loop(self) -> LoopState:
        resumed = self._try_resume()
        if resumed is None:
            return LoopState()
        return LoopState(
            history=list(resumed["history"]),
            best=resumed["best_objective"],
            best_epoch=resumed["best_epoch"],
            bad_epochs=resumed["bad_epochs"],
            start_epoch=resumed["epoch"] + 1,
        )

    def _run_epochs(self, train: Split, val: Split, loop: LoopState) -> tuple[RunStatus, str]:
        t_start = time.perf_counter()
        for epoch in range(loop.start_epoch, self.cfg.epochs + 1):
            t0 = time.perf_counter()
            try:
                means, grads = self.train_epoch(train, epoch)
            except Diverged as exc:
                log.error("diverged: %s", exc)
                return RunStatus.DIVERGED, str(exc)
            val_metrics = self._validate(val)
            objective = val_metrics[self.task.objective]
            if not math.isfinite(objective):
                reason = f"validation objective became {objective} at epoch {epoch}"
                log.error("diverged: %s", reason)
                return RunStatus.DIVERGED, reason
            self._scheduler_step("epoch", objective)
            row = {"epoch": epoch, **{f"train_{k}": v for k, v in means.items()}, **val_metrics,
                   "lr": self.optimizer.param_groups[0]["lr"], **grads,
                   "epoch_time_s": time.perf_counter() - t0, "threads": torch.get_num_threads()}  # fmt: skip
            improved = self._record_epoch(row, objective, loop)
            self.tracker.epoch_end(row, self.model, self.task, val)
            elapsed = time.perf_counter() - t_start
            self._log_epoch(row, improved, elapsed / (epoch - loop.start_epoch + 1) * (self.cfg.epochs - epoch))
            for callback in self.epoch_callbacks:
                callback(epoch, objective)  # may raise (e.g. a pruner's TrialPruned)
            stop = self._stop_reason(loop, epoch, elapsed)
            if stop:
                log.info("stopping early: %s", stop)
                return RunStatus.EARLY_STOPPED, stop
        return RunStatus.COMPLETED, ""

    def _validate(self, val: Split) -> dict[str, float]:
        cfg = self.cfg
        metrics = score_split(self.model, self.task, val, self.device, cfg.precision, cfg.eval_batch_size)
        return {f"val_{k}": v for k, v in metrics.items()}

    def _record_epoch(self, row: dict, objective: float, loop: LoopState) -> bool:
        """Append the epoch to metrics.csv, keep best.pt when it improved, write last.pt; True if improved."""
        loop.history.append(row)
        improved = self.task.is_better(objective, loop.best, self.cfg.early_stopping.min_delta)
        if improved:
            loop.best, loop.best_epoch, loop.bad_epochs = objective, row["epoch"], 0
            save_torch(self.run_dir / BEST_CKPT, {"model": self.model.state_dict(), "epoch": row["epoch"]})
        else:
            loop.bad_epochs += 1
        write_csv(self.run_dir / METRICS, loop.history)
        state = self._state(row["epoch"], loop.best, loop.best_epoch, loop.bad_epochs, loop.history)
        save_torch(self.run_dir / LAST_CKPT, state)
        return improved

    def _log_epoch(self, row: dict, improved: bool, eta_s: float) -> None:
        extra = "".join(f" {k} {v:.4f}" for k, v in row.items() if k.startswith("val_") and k != "val_loss")
        if self.grad_clip:
            extra += f" clipped {row['clipped_frac']:.0%}"
        log.info(
            "epoch %d/%d train_loss %.5f val_loss %.5f%s%s | %.1fs/epoch, ETA %s",
            row["epoch"],
            self.cfg.epochs,
            row["train_loss"],
            row["val_loss"],
            extra,
            " *" if improved else "",
            row["epoch_time_s"],
            _fmt_time(eta_s),
        )

    def _stop_reason(self, loop: LoopState, epoch: int, elapsed: float) -> str:
        """Why training stops before its last epoch ("" to go on): early stopping or the time budget."""
        if epoch >= self.cfg.epochs:
            return ""
        patience = self.cfg.early_stopping.patience
        if patience and loop.bad_epochs >= patience:
            return f"no improvement for {loop.bad_epochs} epochs"
        if self.cfg.max_time_s and elapsed >= self.cfg.max_time_s:
            return f"time budget {self.cfg.max_time_s:.0f}s reached"
        return ""
