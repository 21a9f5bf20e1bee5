"""Sweep summary: one table and a few figures that show at a glance which trial won.

    python -m lstm_ae.sweep.summary <sweep folder>

works on any sweep folder, during or after the sweep, including one whose trials partly
failed. It reads each trial's .hydra/overrides.yaml, result.json and metrics.csv.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

import pandas as pd
import yaml

from lstm_ae.artifacts import write_csv, write_text
from lstm_ae.figures.sweeps import (
    optuna_views,
    plot_all_curves,
    plot_error_vs_context_size,
    plot_objective_vs_params,
    trial_label,
)
from lstm_ae.files import FINISHED, METRICS, SUMMARY_CSV, SUMMARY_MD, RunStatus, read_result
from lstm_ae.sweep import confirm
from lstm_ae.sweep.attrs import ENQUEUED_ATTR

HIDDEN_OVERRIDE_PREFIXES = ("trial_ctx", "+trial_ctx", "hydra.")


def _parse_override(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.lstrip("+~"), value


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


STUDY_STATUS = {
    "COMPLETE": RunStatus.COMPLETED,
    "PRUNED": RunStatus.PRUNED,
    "FAIL": RunStatus.FAILED,
    "RUNNING": RunStatus.RUNNING,
}


def study_outcomes(study) -> dict[str, dict]:
    """What the study recorded of each trial, by run folder name (the last trial that ran in it).
    It fills in what result.json does not say, e.g. for any Hydra app whose task only returns a value."""
    out: dict[str, dict] = {}
    if study is None:
        return out
    for t in study.get_trials(deepcopy=False):
        run_dir = t.user_attrs.get("run_dir")
        if run_dir and t.state.name in STUDY_STATUS:
            out[Path(run_dir).name] = {
                "number": t.number,
                "status": t.user_attrs.get("status") or STUDY_STATUS[t.state.name],
                "values": list(t.values) if t.values else [],
                "reason": t.user_attrs.get("reason", ""),
            }
    return out


def open_study(sweep_dir: Path):
    """The study in <sweep>/optuna.db, or None."""
    db = Path(sweep_dir) / "optuna.db"
    if not db.exists():
        return None
    import optuna

    from lstm_ae.sweep.storage import open_storage

    storage = open_storage(f"sqlite:///{db.absolute()}")
    summaries = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summaries[0].study_name, storage=storage) if len(summaries) == 1 else None


def collect(sweep_dir: Path, study=None) -> tuple[pd.DataFrame, list[str], dict[str, pd.DataFrame]]:
    """Rows per trial, the swept parameter names, and each trial's metrics."""
    rows, curves = [], {}
    recorded = study_outcomes(study)
    for trial_dir in sorted(
        (p for p in sweep_dir.iterdir() if (p / ".hydra" / "overrides.yaml").exists()),
        key=lambda p: (len(p.name), p.name),
    ):
        overrides = yaml.safe_load((trial_dir / ".hydra" / "overrides.yaml").read_text()) or []
        params = dict(_parse_override(o) for o in overrides if not o.lstrip("+~").startswith(HIDDEN_OVERRIDE_PREFIXES))
        result = read_result(trial_dir)
        known = recorded.get(trial_dir.name, {})
        row = {"trial": trial_dir.name, **params}
        row["status"] = result.get("status") or known.get("status", "running or killed")
        values = known.get("values") or []
        row["objective"] = _number(result.get("objective", values[0] if values else None))
        if len(values) > 1:
            row.update({f"objective_{i}": v for i, v in enumerate(values)})
        row["objective_name"] = result.get("objective_name", "")
        row["direction"] = result.get("direction", "")
        for key, value in (result.get("test") or {}).items():
            if isinstance(value, (int, float)):
                row[f"test_{key}"] = value
        row["epochs"] = result.get("epochs_run")
        row["wall_time_s"] = _number(result.get("wall_time_s"))
        row["reason"] = result.get("reason") or known.get("reason", "")
        row["folder"] = str(trial_dir)
        rows.append(row)
        if (trial_dir / METRICS).exists():
            try:
                curves[trial_dir.name] = pd.read_csv(trial_dir / METRICS)
            except (OSError, ValueError, pd.errors.EmptyDataError):
                pass
    df = pd.DataFrame(rows)
    if df.empty:
        return df, [], curves
    candidate = [
        c
        for c in df.columns
        if c
        not in (
            "trial",
            "status",
            "objective",
            "objective_name",
            "direction",
            "epochs",
            "pareto",
            "wall_time_s",
            "reason",
            "folder",
        )
        and not c.startswith("test_")
        and c not in _objective_columns(df)
    ]
    swept = [c for c in candidate if df[c].astype(str).nunique() > 1] or candidate
    return df, swept, curves


def inert_parameters(df: pd.DataFrame, swept: list[str], rel: float = 1e-5) -> list[str]:
    """Swept parameters whose values changed nothing: among completed trials that differ only in this
    parameter, the objective is the same (to rel) in every such group."""
    ok = df[df["status"].isin(FINISHED) & df["objective"].notna()]
    if ok.empty:
        return []
    inert = []
    for name in swept:
        others = [c for c in swept if c != name]
        # map(str): pandas' string dtype keeps a missing value as NaN, which join cannot take
        keys = ok[others].map(str).agg("|".join, axis=1) if others else pd.Series("", index=ok.index)
        groups = [g["objective"] for _, g in ok.groupby(keys) if g[name].astype(str).nunique() > 1]
        if groups and all(g.max() - g.min() <= rel * max(abs(g.mean()), 1e-12) for g in groups):
            inert.append(name)
    return inert


def _objective_columns(df: pd.DataFrame) -> list[str]:
    """objective_0, objective_1, ...: the values of a multi-objective study."""
    return [c for c in df.columns if c.startswith("objective_") and c[len("objective_") :].isdigit()]


def _sort_best_first(df: pd.DataFrame, direction: str) -> pd.DataFrame:
    ok = df["status"].isin(FINISHED) & df["objective"].notna()
    good = df[ok].sort_values("objective", ascending=(direction == "minimize"))
    return pd.concat([good, df[~ok]], ignore_index=True)


def _md_table(df: pd.DataFrame, columns: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "/")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row[c]) for c in columns) + " |" for _, row in df.iterrows()]
    return "\n".join(lines)


def write_summary(sweep_dir: Path, directions: list[str] | str | None = None, study=None) -> pd.DataFrame:
    """Write summary.csv, summary.md and figures into the sweep folder; return the table.

    directions: the sweeper's (it decides which trial is best); else the study's, else what the runs
    recorded. study: the sweep's Optuna study (default: <sweep>/optuna.db when there is one)."""
    sweep_dir = Path(sweep_dir)
    if study is None:
        try:
            study = open_study(sweep_dir)
        except Exception:  # a damaged or foreign database must not stop the summary
            study = None
    df, swept, curves = collect(sweep_dir, study)
    if df.empty:
        write_text(sweep_dir / SUMMARY_MD, f"# Sweep summary\n\nNo trial folders yet in `{sweep_dir}`.\n")
        return df
    if isinstance(directions, str):
        directions = [directions]
    if not directions and study is not None:
        directions = [d.name.lower() for d in study.directions]
    if not directions:  # the runs record their task's direction
        known = [d for d in df["direction"] if d in ("minimize", "maximize")]
        directions = [known[0] if known else "minimize"]
    pareto = []
    if len(directions) > 1 and study is not None:
        pareto = [str(t.number) for t in study.best_trials]
        numbers = {name: str(o["number"]) for name, o in study_outcomes(study).items()}
        df["pareto"] = [numbers.get(trial) in pareto for trial in df["trial"]]
        df = pd.concat([df[df["pareto"]], df[~df["pareto"]]], ignore_index=True)
    else:
        df = _sort_best_first(df, directions[0])
    write_csv(sweep_dir / SUMMARY_CSV, df.to_dict("records"))
    figures = sweep_figures(df, swept, curves, sweep_dir, study)
    lines = [f"# Sweep summary: `{sweep_dir}`", ""]
    lines.append(
        "Trials: " + ", ".join(f"{v} {k}" for k, v in df["status"].value_counts().items()) + f" (of {len(df)})"
    )
    lines += ["", *headline(df, swept, directions, pareto, sweep_dir, figures)]
    lines += reference_lines(df)
    for name in inert_parameters(df, swept):
        lines += ["", f"Note: `{name}` changed nothing: trials that differ only in it reached the same objective."]
    if study is not None:
        enqueued = [t.number for t in study.get_trials(deepcopy=False) if t.user_attrs.get(ENQUEUED_ATTR)]
        if enqueued:
            lines += ["", f"Enqueued first (`hydra.sweeper.enqueue`): trial(s) {', '.join(map(str, enqueued))}."]
    lines += ["", "## Trials, best first", "", trials_table(df, swept)]
    lines += confirm.summary_lines(sweep_dir, minimize=directions[0] == "minimize")
    failed = df[~df["status"].isin(FINISHED)]
    if len(failed):
        lines += ["", "## Trials that did not complete", ""]
        lines += [
            f"- trial {r['trial']} ({trial_label(r, swept)}): {r['status']}: {r['reason']}"
            for _, r in failed.iterrows()
        ]
    lines += ["", "## Figures", ""]
    lines += [f"### {title}\n\n![{title}]({name})\n" if name else f"### {title}\n" for title, name in figures]
    write_text(sweep_dir / SUMMARY_MD, "\n".join(lines) + "\n")
    return df


def sweep_figures(df: pd.DataFrame, swept: list[str], curves: dict, sweep_dir: Path, study) -> list[tuple[str, str]]:
    """Draw the sweep's figures; (title, file) of each drawn."""
    figures = []
    if swept:
        plot_objective_vs_params(df, swept, sweep_dir / "objective_vs_params.png")
        figures.append(("Objective vs each swept parameter", "objective_vs_params.png"))
    if plot_error_vs_context_size(df, sweep_dir / "test_vs_hidden.png"):
        figures.append(("Test reconstruction error vs context size, beside PCA of the same size", "test_vs_hidden.png"))
    for column, label, logy, name in (
        ("val_loss", "validation loss", True, "val_curves.png"),
        ("val_acc", "validation accuracy", False, "val_accuracy.png"),
        ("train_loss", "training loss", True, "train_curves.png"),
    ):
        if plot_all_curves(df, swept, curves, column, label, sweep_dir / name, logy=logy):
            figures.append((f"{label[0].upper()}{label[1:]} of every trial", name))
    try:
        figures += optuna_views(sweep_dir, study)
    except Exception as exc:  # the summary must not fail because of the study file
        figures.append((f"Optuna views unavailable ({type(exc).__name__})", ""))
    return figures


def headline(df: pd.DataFrame, swept: list[str], directions: list[str], pareto: list, sweep_dir: Path, figures) -> list:
    """The Pareto front, or the best trial with its test metrics (and its reconstructions copied)."""
    best = df.iloc[0]
    if pareto:
        front = df[df["pareto"]]
        objectives = _objective_columns(df)
        return [f"**Pareto front ({', '.join(directions)}): {len(front)} trial(s)**", "",
                _md_table(front, ["trial", *swept, *objectives]), ""]  # fmt: skip
    if best["status"] not in FINISHED:
        return ["**No trial completed yet.**"]
    line = (
        f"**Best trial: {best['trial']}** ({trial_label(best, swept)}): "
        f"{best['objective_name'] or 'objective'} = {best['objective']:.5g}"
    )
    tests = [c for c in df.columns if c.startswith("test_") and c != "test_mean_recon"]
    if tests:
        same = "test_recon" in tests and "test_loss" in tests and best["test_recon"] == best["test_loss"]
        shown = [c for c in tests if not pd.isna(best[c]) and not (same and c == "test_recon")]
        line += "; test: " + ", ".join(f"{c[5:]} = {best[c]:.5g}" for c in shown)
    best_png = Path(best["folder"]) / "reconstructions.png"
    if best_png.exists():
        shutil.copyfile(best_png, sweep_dir / "best_reconstructions.png")
        figures.append((f"Reconstructions of the best trial ({trial_label(best, swept)})", "best_reconstructions.png"))
    return [line]


def reference_lines(df: pd.DataFrame) -> list[str]:
    """What the reconstruction numbers mean: PCA of each trial's context size, and the mean item."""
    if "test_recon_vs_pca" not in df or not df["test_recon_vs_pca"].notna().any():
        return []
    mean = df["test_mean_recon"].dropna()
    lines = [
        "",
        "Reference: `recon_vs_pca` is each trial's test reconstruction MSE over that of PCA with as many "
        "components as its context (`model.hidden`), fit on the training split: below 1, the autoencoder "
        "beats the best linear code of its size.",
    ]
    if len(mean):
        lines[-1] += f" The mean training item alone scores {mean.iloc[0]:.5g}."
    return lines


def trials_table(df: pd.DataFrame, swept: list[str]) -> str:
    cols = [
        "trial",
        *swept,
        "status",
        *(_objective_columns(df) or ["objective"]),
        *[c for c in df.columns if c.startswith("test_") and c != "test_mean_recon"],
        "epochs",
        "wall_time_s",
    ]
    if "test_recon" in df and "test_loss" in df and (df["test_recon"].fillna(-1) == df["test_loss"].fillna(-1)).all():
        cols.remove("test_recon")  # reconstruction runs: the loss is the reconstruction error
    names = df["objective_name"].dropna().unique() if "objective_name" in df else []
    named = df.rename(columns={"objective": f"objective ({names[0]})"}) if len(names) == 1 and names[0] else df
    cols = [f"objective ({names[0]})" if c == "objective" and named is not df else c for c in cols]
    return _md_table(named, [c for c in cols if c in swept or c == "trial" or named[c].notna().any()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lstm_ae.sweep.summary", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder (holds one sub-folder per trial)")
    parser.add_argument(
        "--direction", choices=("minimize", "maximize"), default=None, help="default: as the runs recorded"
    )
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir} is not a folder", file=sys.stderr)
        return 2
    df = write_summary(args.sweep_dir, args.direction)
    if df.empty:
        print(f"error: no trial folders (with .hydra/overrides.yaml) in {args.sweep_dir}", file=sys.stderr)
        return 2
    print((args.sweep_dir / SUMMARY_MD).read_text().split("## Figures")[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
