"""Figures of a sweep: the objective against each swept parameter, every trial's curves, Optuna's views."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lstm_ae.artifacts import save_figure
from lstm_ae.figures.style import epoch_axis, styled, subplots
from lstm_ae.files import FINISHED


def fixed_ticks(ax, values) -> None:
    """x ticks at the given values only, as plain numbers: no minor labels."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(list(values)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def trial_label(row: pd.Series, swept: list[str]) -> str:
    return ", ".join(f"{k.split('.')[-1]}={row[k]}" for k in swept) or f"trial {row['trial']}"


@styled
def plot_objective_vs_params(df: pd.DataFrame, swept: list[str], path: Path) -> None:
    ok = df[df["status"].isin(FINISHED)]
    n = max(1, len(swept))
    fig, axes = subplots(1, n, figsize=(5.5 * n, 4.5), squeeze=False)
    for ax, name in zip(axes[0], swept):
        values = pd.to_numeric(ok[name], errors="coerce")
        if values.notna().all() and len(values):
            ax.scatter(values, ok["objective"], s=50, label="trial")
            best = ok.assign(_v=values).groupby("_v")["objective"].min()
            ax.plot(best.index, best.values, "-", color="C1", label="best trial per value")
            if values.min() > 0 and values.max() / values.min() >= 10:
                ax.set_xscale("log")
                fixed_ticks(ax, sorted(values.unique()))  # log minor labels would collide (2×10¹3×10¹...)
        else:
            cats = ok[name].astype(str)
            groups = ok.groupby(cats)["objective"]
            ax.bar(list(groups.groups), groups.min().values, color="C0", label="best trial")
        ax.set_xlabel(name)
        ax.set_ylabel(f"objective ({ok['objective_name'].iloc[0] if len(ok) else ''})")
        if ok["objective"].gt(0).all() and len(ok) and ok["objective"].max() / max(ok["objective"].min(), 1e-300) > 20:
            ax.set_yscale("log")
        ax.legend()
    fig.suptitle("objective vs swept parameters (failed trials omitted)")
    fig.tight_layout()
    save_figure(fig, path)


@styled
def plot_error_vs_context_size(df: pd.DataFrame, path: Path) -> bool:
    """Test reconstruction MSE of the best trial per model.hidden, with PCA of as many components and
    the mean item beside it; False (nothing drawn) unless model.hidden varies and the references exist."""
    needed = {"model.hidden", "test_pca_recon"}
    if not needed <= set(df.columns):
        return False
    ok = df[df["status"].isin(FINISHED)].copy()
    ok["hidden"] = pd.to_numeric(ok["model.hidden"], errors="coerce")
    ok["recon"] = ok["test_recon"] if "test_recon" in ok else ok.get("test_loss")
    ok = ok.dropna(subset=["hidden", "recon"])
    if ok["hidden"].nunique() < 2:
        return False
    best = ok.sort_values("recon").groupby("hidden").first().sort_index()
    fig, ax = subplots(figsize=(8.5, 5.2))
    ax.plot(best.index, best["recon"], "o-", lw=2, ms=7, label="LSTM autoencoder (best trial per size)")
    ax.plot(best.index, best["test_pca_recon"], "s--", lw=1.6, color="0.35", label="PCA, k = hidden")
    if "test_mean_recon" in best and best["test_mean_recon"].notna().any():
        ax.axhline(best["test_mean_recon"].iloc[0], color="C3", lw=1, ls=":", label="mean training item")
    ax.set_xlabel("context size (model.hidden)")
    ax.set_ylabel("test reconstruction MSE")
    if best.index.min() > 0 and best.index.max() / best.index.min() >= 10:
        ax.set_xscale("log")
    fixed_ticks(ax, list(best.index))
    positive = pd.concat([best["recon"], best["test_pca_recon"]]).dropna()
    if len(positive) and (positive > 0).all() and positive.max() / positive.min() > 20:
        ax.set_yscale("log")
    ax.set_title("test reconstruction error vs context size")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    return True


@styled
def plot_all_curves(
    df: pd.DataFrame,
    swept: list[str],
    curves: dict[str, pd.DataFrame],
    column: str,
    ylabel: str,
    path: Path,
    logy: bool,
) -> bool:
    fig, ax = subplots(figsize=(9, 5.5))
    drawn = 0
    for _, row in df.iterrows():
        c = curves.get(row["trial"])
        if c is None or column not in c:
            continue
        style = "-" if row["status"] in FINISHED else ":"
        ax.plot(c["epoch"], c[column], style, marker="o", ms=3, label=f"{trial_label(row, swept)} [{row['status']}]")
        drawn += 1
    if not drawn:
        return False
    epoch_axis(ax)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(f"{ylabel} of every trial")
    ax.legend(fontsize=9 if drawn > 8 else 11, ncol=2 if drawn > 12 else 1, loc="best")
    fig.tight_layout()
    save_figure(fig, path)
    return True


MIN_TRIALS_FOR_IMPORTANCES = 8  # below this, fANOVA importances are noise


@styled
def optuna_views(sweep_dir: Path, study) -> list[tuple[str, str]]:
    """Optuna's parameter importances, drawn only when they carry information: at least
    MIN_TRIALS_FOR_IMPORTANCES finished trials, two parameters or more, and importances that differ (equal
    shares say nothing). History and slice plots would repeat objective_vs_params.png."""
    if study is None:
        return []
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCES or len(complete[0].params) < 2:
        return []
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        importances = optuna.importance.get_param_importances(study)
    except Exception:  # e.g. importances need scikit-learn; a missing view is not an error
        return []
    shares = list(importances.values())
    if not shares or max(shares) - min(shares) < 0.05:
        return []
    name = "optuna_importances.png"
    fig, ax = subplots(figsize=(8, 1.2 + 0.5 * len(shares)))
    names = list(importances)[::-1]
    ax.barh(names, [importances[k] for k in names], color="C0")
    ax.set_xlabel(f"importance for the objective (fANOVA, {len(complete)} trials)")
    ax.set_xlim(0, 1)
    ax.set_title("Optuna: parameter importances")
    fig.tight_layout()
    save_figure(fig, sweep_dir / name)
    return [("Optuna: parameter importances", name)]
