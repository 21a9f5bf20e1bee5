"""Real short trainings on the toy signals: learning, divergence, exact resume."""

from functools import partial

import pytest
import torch
from omegaconf import OmegaConf

from lstm_ae.artifacts import load_checkpoint, save_torch
from lstm_ae.config import group_defaults, typed_trainer
from lstm_ae.data import toy
from lstm_ae.data.base import Split
from lstm_ae.files import LAST_CKPT
from lstm_ae.model.autoencoder import LSTMAutoencoder
from lstm_ae.train.tasks import Task
from lstm_ae.train.trainer import Trainer, score_split

CPU = torch.device("cpu")


def _trainer(model, run_dir, epochs, lr=0.01, seed=0, epoch_callbacks=None, **settings):
    """A Trainer with the trainer group's YAML defaults, as a run gets them, and a few settings changed."""
    node = OmegaConf.merge(
        group_defaults("trainer"),
        {"epochs": epochs, "batch_size": 32, "grad_clip": 1.0, "log_every_s": 1e9, "device": "cpu", **settings},
    )
    cfg = typed_trainer(node)
    return Trainer(
        model, Task(), partial(torch.optim.Adam, lr=lr), None, run_dir, cfg, seed=seed, epoch_callbacks=epoch_callbacks
    )


@pytest.fixture(scope="module")
def small_toy():
    return toy.load(size=2000, seed=0)


def test_training_cuts_validation_loss_and_learns_the_dip(small_toy, tmp_path):
    torch.manual_seed(0)
    model = LSTMAutoencoder(1, hidden=32)
    before = score_split(model, Task(), small_toy.val, CPU, "fp32", 4096)["loss"]
    outcome = _trainer(model, tmp_path, epochs=6, resume=False).fit(small_toy.train, small_toy.val)
    assert outcome.status == "completed" and len(outcome.history) == 6
    assert outcome.best_objective <= before / 1.3, (before, outcome.best_objective)
    # The reconstruction puts the dip where it is: low inside, near the mean outside.
    model.load_state_dict(load_checkpoint(tmp_path / "best.pt")["model"])
    with torch.no_grad():
        recon = model(small_toy.test.x).recon[:, :, 0]
    centres = small_toy.test.meta["dip_centre"]
    positions = torch.arange(1, 51)
    in_dip = (positions[None] >= centres[:, None] - 5) & (positions[None] <= centres[:, None] + 5)
    assert float(recon[in_dip].mean()) < 0.3 < 0.4 < float(recon[~in_dip].mean())


def test_nan_loss_stops_at_once_as_diverged(tmp_path):
    x = torch.rand(64, 50, 1)
    x[10, 5, 0] = float("nan")
    train = Split(x)
    outcome = _trainer(LSTMAutoencoder(1, 8), tmp_path, epochs=5, resume=False).fit(train, Split(torch.rand(16, 50, 1)))
    assert outcome.status == "diverged"
    assert "nan" in outcome.reason and outcome.history == []
    assert not (tmp_path / "metrics.csv").exists()


class _Killed(Exception):
    pass


def _kill_after(epoch_to_die):
    def callback(epoch, objective):
        if epoch == epoch_to_die:
            raise _Killed

    return callback


def test_killed_run_resumes_to_the_same_result(small_toy, tmp_path):
    """Interrupted after epoch 2 and resumed from last.pt == uninterrupted, bit for bit."""
    train, val = Split(small_toy.train.x[:600]), Split(small_toy.val.x[:200])
    torch.manual_seed(1)
    straight = _trainer(LSTMAutoencoder(1, 16, layers=2, dropout=0.2), tmp_path / "a", epochs=4, seed=5).fit(train, val)

    torch.manual_seed(1)
    first = _trainer(
        LSTMAutoencoder(1, 16, layers=2, dropout=0.2),
        tmp_path / "b",
        epochs=4,
        seed=5,
        epoch_callbacks=[_kill_after(2)],
    )
    with pytest.raises(_Killed):
        first.fit(train, val)
    assert load_checkpoint(tmp_path / "b" / LAST_CKPT)["epoch"] == 2
    torch.manual_seed(123)  # a fresh process: different global RNG state and initial weights
    resumed = _trainer(LSTMAutoencoder(1, 16, layers=2, dropout=0.2), tmp_path / "b", epochs=4, seed=5).fit(train, val)
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in straight.history]
    assert resumed.best_objective == straight.best_objective


def test_foreign_checkpoint_is_refused_without_running_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not a readable lstm-ae checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    (tmp_path / "trunc.pt").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="trunc.pt"):
        load_checkpoint(tmp_path / "trunc.pt")
    save_torch(tmp_path / "ok.pt", {"model": {"w": torch.ones(2)}})
    assert torch.equal(load_checkpoint(tmp_path / "ok.pt")["model"]["w"], torch.ones(2))


def test_resuming_into_a_folder_of_another_model_is_a_clear_error(small_toy, tmp_path):
    from lstm_ae.errors import ConfigError

    train, val = Split(small_toy.train.x[:64]), Split(small_toy.val.x[:32])
    _trainer(LSTMAutoencoder(1, 4), tmp_path, epochs=1).fit(train, val)
    with pytest.raises(ConfigError, match="holds a run with a different model"):
        _trainer(LSTMAutoencoder(1, 6), tmp_path, epochs=2).fit(train, val)


def test_a_garbage_last_checkpoint_is_one_line_and_keeps_the_finished_result(tmp_path):
    import json

    from conftest import run_cli

    run = tmp_path / "run"
    args = ["dataset.size=300", "trainer.epochs=1", "model.hidden=8", f"hydra.run.dir={run}"]
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    (run / "last.pt").write_bytes(b"this is not a checkpoint" * 10)
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 2
    lines = [line for line in again.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(run / "last.pt") in lines[0], again.stderr
    assert "trainer.resume=false" in lines[0] and "delete" in lines[0] and "weights_only" not in lines[0]
    assert json.loads((run / "result.json").read_text())["status"] == "completed"  # a failed rerun loses nothing


def test_a_schedule_too_short_for_its_phases_is_one_line_before_training(tmp_path):
    """OneCycleLR over 4 steps divides by a zero-length warm-up phase: one line, exit 2, and no run folder
    is left behind (it held only what Hydra writes at the start)."""
    from conftest import run_cli

    run = tmp_path / "run"
    args = ["dataset.size=200", "scheduler=onecycle", "trainer.epochs=1", "trainer.batch_size=32", "model.hidden=4"]
    proc = run_cli(*args, f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: scheduler: ZeroDivisionError") and "4 steps" in lines[0]
    assert not run.exists()


def test_epoch_axes_tick_whole_epochs_only():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lstm_ae.figures.style import epoch_axis

    for n in (1, 2, 3, 12):
        fig, ax = plt.subplots()
        ax.plot(range(1, n + 1), range(n))
        epoch_axis(ax)
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert all(float(t).is_integer() for t in ticks), (n, ticks)
        assert ticks[0] == 1 and ticks[-1] == n if n <= 3 else len(ticks) >= 3
        plt.close(fig)
