"""What every run does after training, in one place: the best checkpoint -> test metrics -> the task's
extras -> the reconstruction references -> the figures. Used by the single run (experiment),
cross-validation (crossval), `python -m lstm_ae.apps.evaluate` and the Python API alike."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lstm_ae.artifacts import load_checkpoint
from lstm_ae.errors import ConfigError, first_line
from lstm_ae.evaluation.reference import ReconReference, reconstruction_reference
from lstm_ae.figures import runs as plots
from lstm_ae.run.prepare import Prepared
from lstm_ae.train.tasks import Task
from lstm_ae.train.trainer import score_split

log = logging.getLogger("lstm_ae")


@dataclass
class Tested:
    """The after-training step's results: test metrics (empty without a checkpoint) and the figures."""

    test: dict = field(default_factory=dict)
    reference: ReconReference | None = None
    figures: list[str] = field(default_factory=list)


def test_best(prep: Prepared, out: Path, history: list[dict], checkpoint: Path | None) -> Tested:
    """Load checkpoint into prep.model (None: keep the model as it is and skip testing, e.g. a diverged
    run), score the test split, add the task's extras and the references, and draw the run's figures."""
    tested = Tested()
    if checkpoint is not None:
        load_weights(prep.model, checkpoint)
        cfg = prep.trainer_cfg
        tested.test = score_split(
            prep.model, prep.task, prep.data.test, prep.device, cfg.precision, cfg.eval_batch_size
        )
        tested.test.update(prep.task.extra_test_metrics(prep.model, prep.data, prep.device, out))
        tested.reference = reference_of(prep)
        tested.test.update(reference_metrics(tested.test, tested.reference))
    tested.figures = write_plots(prep, history, out, tested.reference)
    return tested


def load_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    """A checkpoint's weights into model; one ConfigError line when they do not fit it."""
    try:
        model.load_state_dict(load_checkpoint(checkpoint)["model"])
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"{checkpoint}: does not fit the composed model ({first_line(exc)})") from None


def reference_of(prep: Prepared) -> ReconReference:
    """PCA with k = the context size and the mean item, fit on the training inputs the model reconstructs."""
    inputs = [prep.task.split_batch(split.x)[0] for split in (prep.data.train, prep.data.val, prep.data.test)]
    return reconstruction_reference(*inputs, k=prep.model.encoder.hidden_size)


def reference_metrics(test: dict, reference: ReconReference) -> dict:
    """Test metrics of the references beside the model's own: pca_recon, mean_recon and the model's
    reconstruction MSE over PCA's (recon_vs_pca; below 1: better than PCA of the same size)."""
    recon = test.get("recon")
    pca = reference.test.pca_recon
    metrics = {"pca_recon": pca, "mean_recon": reference.test.mean_recon}
    if recon is not None and pca:
        metrics["recon_vs_pca"] = recon / pca
    return metrics


def worst_value(direction: str) -> float:
    """What a failed trial returns: finite-free but accepted by every Optuna sweeper."""
    return math.inf if direction == "minimize" else -math.inf


@torch.inference_mode()
def reconstruct(model, task: Task, x: torch.Tensor, device) -> np.ndarray:
    model.eval()
    inp, _ = task.split_batch(x.to(device))
    return model(inp).recon.float().cpu().numpy()


def _short(override: str) -> str:
    """An override with a path value shortened to its file name (dataset.path=…/sp500.csv.gz): a title
    names the run, the run's config holds the whole path."""
    key, sep, value = override.partition("=")
    return f"{key}=…/{Path(value).name}" if sep and "/" in value and "," not in value else override


def run_label(width: int = 110) -> str:
    """Which run a figure shows: the trial's number and command-line overrides inside a Hydra job
    (e.g. "trial 3: model.hidden=32 optimizer.lr=0.005"), empty outside one."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return ""
    hc = HydraConfig.get()
    overrides = " ".join(_short(o) for o in hc.overrides.task if not o.lstrip("+~").startswith("hydra."))
    label = f"trial {hc.job.num}: {overrides}" if hc.mode.name == "MULTIRUN" else overrides
    return label if len(label) <= width else label[: width - 1] + "…"


def write_plots(prep: Prepared, history: list[dict], out: Path, reference: ReconReference | None) -> list[str]:
    """The figures every run has: examples, test reconstructions (with PCA's beside them when scored),
    learning curves. The reconstruction figure names the run it shows (run_label), so a copy in a sweep
    summary still says which trial."""
    data, task = prep.data, prep.task
    plots.plot_examples(data, out / "examples.png", n=min(prep.trainer_cfg.n_plot_examples, len(data.train)))
    plot_test_reconstructions(prep, out / "reconstructions.png", reference)
    files = ["examples.png", "reconstructions.png"]
    if history:
        plots.plot_curves(
            history,
            "loss",
            "loss (reconstruction MSE)" if task.name == "reconstruct" else "loss (MSE + weighted heads)",
            out / "loss.png",
            f"{data.name} / {task.name}: loss vs epoch",
            logy=True,
        )
        files.append("loss.png")
        if "train_acc" in history[0]:
            plots.plot_curves(
                history, "acc", "accuracy", out / "accuracy.png", f"{data.name} / {task.name}: accuracy vs epoch"
            )
            files.append("accuracy.png")
        if "train_pred" in history[0]:
            plots.plot_curves(
                history,
                "pred",
                "in-window prediction MSE\n(normalized; looked ahead)",
                out / "prediction_loss.png",
                f"{data.name}: in-window prediction loss vs epoch\n{honest_share_text(getattr(task, 'last_weight', 1.0), data.seq_len - 1)}",
                logy=True,
            )
            files.append("prediction_loss.png")
    return files


def honest_share_text(last_weight: float, steps: int) -> str:
    """What the in-window prediction loss of `steps` steps is: its honest last step's share of the weight."""
    last = float(last_weight)
    share = last / (steps - 1 + last) if steps - 1 + last > 0 else 0.0
    if share >= 0.9:
        return (f"the last step (an honest one-step forecast) carries {100 * share:.1f} % of the weight "
                f"(task.last_weight={last:g}): close to the forecast error")  # fmt: skip
    return (f"the encoder has read every target but the last ({100 * share:.1f} % of the weight): "
            "not a forecast error (val_next and one_step are)")  # fmt: skip


def plot_test_reconstructions(prep: Prepared, path: Path, reference: ReconReference | None) -> None:
    data, task = prep.data, prep.task
    idx = list(range(min(len(data.test), 3 if data.kind == "signal" else 8)))
    x = data.test.x[idx]
    inp, _ = task.split_batch(x)
    pca = None
    if reference is not None and reference.test.pca_recon and reference.k < reference.values_per_item:  # else: a copy
        pca = (reference.code.reconstruct(inp.numpy(), reference.k), f"PCA-{reference.k}")
    label = run_label()
    plots.plot_reconstructions(
        data,
        "test",
        idx,
        inp.numpy(),
        reconstruct(prep.model, task, x, prep.device),
        path,
        f"{data.name}: test originals vs reconstructions (best checkpoint)" + (f"\n{label}" if label else ""),
        pca,
    )


def fmt_metrics(metrics: dict) -> str:
    return " ".join(
        f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in metrics.items()
        if not isinstance(v, (dict, list))
    )
