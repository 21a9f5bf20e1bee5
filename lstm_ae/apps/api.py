"""The Python API: train and use an LSTM autoencoder from a notebook, on the same model, trainer and
artifacts as run.py.

    from lstm_ae import fit, load
    model = fit(X, hidden=32, epochs=20)          # X: (N, T, F) array or tensor, or a list of (T, F) arrays
    Z = model.encode(X)                            # (N, hidden) contexts
    X_hat = model.reconstruct(X)                   # (N, T, F), in X's units
    model.save("ae.pt"); model = load("ae.pt")     # load() also takes a run folder of run.py
    model = fit(preset="mnist_classify", overrides=["dataset.root=data"])   # a preset, composed by Hydra

The decoder ends in a sigmoid, so fit() scales each feature to [0, 1] with the training data's min and
max, and encode()/reconstruct() apply the same scaling (reconstruct() undoes it).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstm_ae.artifacts import load_checkpoint
from lstm_ae.data.base import SequenceData, Split
from lstm_ae.errors import ConfigError, first_line
from lstm_ae.files import BEST_CKPT
from lstm_ae.model.autoencoder import LSTMAutoencoder, Recipe
from lstm_ae.run import prepare as pipeline
from lstm_ae.run.outputs import load_weights, test_best
from lstm_ae.train.trainer import Trainer

FORMAT = "lstm_ae.api/1"


def as_sequences(X: Any, name: str = "X") -> np.ndarray:
    """X as a float32 (N, T, F) array; ConfigError (one line) for anything else."""
    try:
        return _as_sequences(X, name)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(
            f"{name} must be numbers shaped (N, T, F) (a numpy array, a torch tensor or a list of (T, F) "
            f"arrays); got {type(X).__name__}: {first_line(exc, 120)}"
        ) from None


def _as_sequences(X: Any, name: str) -> np.ndarray:
    if isinstance(X, (list, tuple)):
        if not X:
            raise ConfigError(f"{name} is empty; give at least one sequence")
        arrays = [np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32) for x in X]
        if any(a.ndim != 2 for a in arrays):
            raise ConfigError(
                f"{name}: a list must hold 2-D (T, F) sequences; got ranks {sorted({a.ndim for a in arrays})}"
            )
        if len({a.shape for a in arrays}) != 1:
            raise ConfigError(f"{name}: sequences must have equal shapes; got {sorted({a.shape for a in arrays})[:3]}")
        X = np.stack(arrays)
    elif isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        hint = " (for one feature per step use X[..., None])" if X.ndim == 2 else ""
        raise ConfigError(f"{name} must be (N, T, F): sequences x steps x features; got shape {X.shape}{hint}")
    if 0 in X.shape:
        raise ConfigError(f"{name} is empty: shape {X.shape}")
    if not np.isfinite(X).all():
        raise ConfigError(f"{name} holds {int((~np.isfinite(X)).sum())} NaN or infinite value(s)")
    return X


class Autoencoder:
    """A trained LSTMAutoencoder with the feature scaling it was trained with."""

    def __init__(
        self, module: LSTMAutoencoder, lo: np.ndarray, hi: np.ndarray, config: dict, result: dict | None = None
    ):
        self.module = module.eval()
        self.lo, self.hi = np.asarray(lo, dtype=np.float32), np.asarray(hi, dtype=np.float32)
        self.config = config
        self.result = result or {}

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def _scaled(self, X) -> torch.Tensor:
        X = as_sequences(X)
        if X.shape[-1] != self.module.encoder.input_size:
            raise ConfigError(
                f"X has {X.shape[-1]} feature(s) per step; this model takes {self.module.encoder.input_size}"
            )
        return torch.from_numpy((X - self.lo) / (self.hi - self.lo)).to(self.device)

    @torch.inference_mode()
    def encode(self, X, batch_size: int = 4096) -> np.ndarray:
        """(N, T, F) -> (N, hidden): the encoder's last hidden state (the context z)."""
        x = self._scaled(X)
        return np.concatenate(
            [self.module.encode(x[i : i + batch_size]).float().cpu().numpy() for i in range(0, len(x), batch_size)]
        )

    @torch.inference_mode()
    def reconstruct(self, X, batch_size: int = 4096) -> np.ndarray:
        """(N, T, F) -> (N, T, F): the reconstructions, in X's units."""
        x = self._scaled(X)
        out = np.concatenate(
            [self.module(x[i : i + batch_size]).recon.float().cpu().numpy() for i in range(0, len(x), batch_size)]
        )
        return out * (self.hi - self.lo) + self.lo

    def save(self, path) -> Path:
        from lstm_ae.artifacts import save_torch

        path = Path(path)
        state = {k: v.cpu() for k, v in self.module.state_dict().items()}
        save_torch(path, {"format": FORMAT, "model": state, "config": self.config,
                          "lo": torch.from_numpy(self.lo), "hi": torch.from_numpy(self.hi),
                          "result": self.result})  # fmt: skip
        return path


def _module_from(config: dict) -> LSTMAutoencoder:
    recipe = config.get("recipe")
    return LSTMAutoencoder(**{**config, "recipe": Recipe(**recipe) if recipe else None})


def fit(
    X: Any = None,
    *,
    hidden: int | None = None,
    layers: int | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    grad_clip: float | None = None,
    val_fraction: float = 0.1,
    seed: int | None = None,
    device: str | None = None,
    out: str | Path | None = None,
    preset: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> Autoencoder:
    """Train on X (reconstruction; the best epoch on a held-out validation part is kept), or on a preset
    of conf/experiment. Settings left None take the config groups' YAML defaults, exactly as run.py
    composes them (the same optimizer, scheduler and validation); overrides are more Hydra overrides.
    Artifacts (metrics.csv, best.pt) go to out (a temp folder by default); the returned model's .result
    holds status, objective and, for presets, test metrics with the reconstruction references."""
    if preset is not None and X is not None:
        raise ConfigError("fit: give X or preset=..., not both (a preset names its own dataset)")
    if preset is None and X is None:
        raise ConfigError("fit: give X, an (N, T, F) array, or preset=<name of conf/experiment>")
    settings = {"model.hidden": hidden, "model.layers": layers, "trainer.epochs": epochs, "optimizer.lr": lr,
                "trainer.batch_size": batch_size, "trainer.grad_clip": grad_clip, "trainer.seed": seed,
                "trainer.device": device}  # fmt: skip
    args = [f"{key}={value}" for key, value in settings.items() if value is not None] + list(overrides)
    if preset is not None:
        return _fit_preset(preset, args, out)
    X = as_sequences(X)
    if not 0 < val_fraction < 1:
        raise ConfigError(f"val_fraction must be between 0 and 1; got {val_fraction}")
    cfg = compose_run(["trainer.resume=false", *args])
    data, lo, hi = in_memory_data(X, val_fraction, int(cfg.trainer.seed))
    prep = pipeline.prepare(cfg, data=data)
    run_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="lstm_ae_fit_"))
    outcome = _train(prep, run_dir)
    if (run_dir / BEST_CKPT).exists():
        load_weights(prep.model, run_dir / BEST_CKPT)
    result = {"status": str(outcome.status), "reason": outcome.reason, "objective": outcome.best_objective,
              "best_epoch": outcome.best_epoch, "run_dir": str(run_dir)}  # fmt: skip
    return Autoencoder(prep.model, lo, hi, _config_of(prep.model), result)


def compose_run(overrides: list[str]):
    """The run config run.py would compose for these overrides, from conf/."""
    from hydra import compose, initialize_config_dir

    from lstm_ae.config import CONF_DIR, HYDRA_BASE

    with initialize_config_dir(config_dir=str(CONF_DIR), **HYDRA_BASE):
        return compose("config", overrides=overrides)


def in_memory_data(X: np.ndarray, val_fraction: float, seed: int) -> tuple[SequenceData, np.ndarray, np.ndarray]:
    """X scaled per feature to [0, 1] (the decoder ends in a sigmoid) and split into train/validation
    parts at random (seeded); the validation part also serves as the test split. Returns the scaling."""
    lo, hi = X.reshape(-1, X.shape[-1]).min(0), X.reshape(-1, X.shape[-1]).max(0)
    hi = np.where(hi > lo, hi, lo + 1)
    x = torch.from_numpy((X - lo) / (hi - lo))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(val_fraction * len(x)))) if len(x) > 1 else 0
    val_idx, train_idx = order[:n_val], order[n_val:] if n_val < len(x) else order
    train, val = Split(x[train_idx]), Split(x[val_idx] if n_val else x)
    return SequenceData(name="X", train=train, val=val, test=val, kind="signal"), lo, hi


def _train(prep, run_dir: Path):
    trainer = Trainer(
        prep.model, prep.task, prep.optimizer_factory, prep.scheduler_cfg, run_dir, prep.trainer_cfg, pace=prep.pace
    )
    return trainer.fit(prep.data.train, prep.data.val)


def _fit_preset(preset: str, overrides: list[str], out) -> Autoencoder:
    from lstm_ae.config import group_options

    if preset not in group_options("experiment"):
        raise ConfigError(f"unknown preset {preset!r}; allowed: {', '.join(group_options('experiment'))}")
    prep = pipeline.prepare(compose_run([f"experiment={preset}", *overrides]))
    run_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"lstm_ae_{preset}_"))
    outcome = _train(prep, run_dir)
    best = run_dir / BEST_CKPT
    tested = test_best(prep, run_dir, outcome.history, best if best.exists() else None)
    result = {"status": str(outcome.status), "objective": outcome.best_objective, "best_epoch": outcome.best_epoch,
              "test": tested.test, "run_dir": str(run_dir)}  # fmt: skip
    ones = np.ones(prep.data.input_size, dtype=np.float32)
    return Autoencoder(prep.model, 0 * ones, ones, _config_of(prep.model), result)


def _config_of(module: LSTMAutoencoder) -> dict:
    """Constructor arguments that rebuild a module with the same parameters."""
    return {
        "input_size": module.encoder.input_size,
        "hidden": module.encoder.hidden_size,
        "layers": module.encoder.num_layers,
        "n_classes": module.classifier.out_features if module.classifier is not None else 0,
        "predict": module.predictor is not None,
        "residual_predict": module.residual_predict,
        "linear_skip": module.skip is not None,
        "class_from": module.class_from,
        "hoist_decoder_input": module.hoist_decoder_input,
        "recipe": dataclasses.asdict(module.recipe),
    }


def load(path) -> Autoencoder:
    """A model saved by Autoencoder.save, or the best checkpoint of a run.py run folder."""
    path = Path(path)
    if path.is_dir():
        ckpt = path / BEST_CKPT
        if not ckpt.exists():
            raise ConfigError(f"{path}: no {BEST_CKPT} (not a run folder, or the run never finished an epoch)")
        state = _checkpoint(ckpt)["model"]
        config = _config_from_state(state)
        saved = path / ".hydra" / "config.yaml"
        if saved.exists():
            import yaml

            run_cfg = yaml.safe_load(saved.read_text()) or {}
            task = run_cfg.get("task") or {}
            if config["n_classes"]:
                config["class_from"] = task.get("class_from", "z")
            if config["predict"]:  # the head's form is in the task, not in the weights
                config["residual_predict"] = bool(task.get("residual", False))
                config["linear_skip"] = bool(task.get("linear_skip", False))
            model_cfg = run_cfg.get("model") or {}
            config["hoist_decoder_input"] = bool(model_cfg.get("hoist_decoder_input", True))
            fields = {f.name for f in dataclasses.fields(Recipe)}  # the forward pass depends on them
            config["recipe"] = {k: v for k, v in model_cfg.items() if k in fields}
        module = _module_from(config)
        module.load_state_dict(state)
        ones = np.ones(config["input_size"], dtype=np.float32)
        return Autoencoder(module, 0 * ones, ones, config, {"run_dir": str(path)})
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    saved = _checkpoint(path)
    if saved.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a model saved by lstm_ae (Autoencoder.save)")
    module = _module_from(saved["config"])
    module.load_state_dict(saved["model"])
    return Autoencoder(module, saved["lo"].numpy(), saved["hi"].numpy(), saved["config"], saved.get("result"))


def _checkpoint(path: Path) -> dict:
    """artifacts.load_checkpoint (weights only: a file never runs code), its error as one ConfigError line."""
    try:
        return load_checkpoint(path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _config_from_state(state: dict) -> dict:
    hidden = state["encoder.weight_hh_l0"].shape[1]
    return {
        "input_size": state["encoder.weight_ih_l0"].shape[1],
        "hidden": hidden,
        "layers": sum(1 for k in state if k.startswith("encoder.weight_hh_l")),
        "n_classes": state["classifier.weight"].shape[0] if "classifier.weight" in state else 0,
        "predict": "predictor.weight" in state,
    }


__all__ = ["Autoencoder", "as_sequences", "fit", "load"]
