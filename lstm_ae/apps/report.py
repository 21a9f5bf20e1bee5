"""The whole study in one command: every task runs (or is reused when it already finished) and one
self-contained report is written: HTML with the figures embedded, the measured numbers in tables and,
in each section, the exact command that produced it; a PDF too when Chromium is installed.

    python -m lstm_ae.apps.report <folder> [--quick] [--mnist-root DIR] [--snp500-csv CSV] [--only KEY,...]

Each task is a plain `python run.py ...` command (the README's study commands) whose output folder is
<folder>/<task>. Running the study again reuses what finished: a run whose result.json says completed,
a sweep whose command exited 0; an interrupted run resumes from its last.pt, an interrupted sweep
through its Optuna study. --quick adds overrides (data subsets, few epochs, smaller grids) so the
whole study takes minutes instead of hours. A task whose data is missing gets a section that says what
to do; the rest of the report is still written.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import html
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lstm_ae.apps.preflight import CONF_DIR
from lstm_ae.artifacts import write_json, write_text
from lstm_ae.files import METRICS, RESULT, SUMMARY_CSV, RunStatus, read_json, read_result

REPO = CONF_DIR.parent
RUN_PY = REPO / "run.py"
MARKER = "study_command.json"  # in each task folder: the command, its exit code and wall time
REPORT = "report.html"
MNIST_QUICK = ("dataset.train_subset=5000", "dataset.val_size=1000", "dataset.test_subset=1000")


# -- the tasks ----------------------------------------------------------------------------------------
@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list]


@dataclass(frozen=True)
class StudyStep:
    key: str  # the folder under the study folder, and the section's anchor
    title: str
    about: str  # what the section shows, one paragraph
    args: tuple[str, ...]  # run.py arguments: preset and overrides ("-m" first for a sweep)
    quick: tuple[str, ...] = ()  # added with --quick
    data: str | None = None  # "mnist" or "snp500": the data the task needs
    figures: tuple[str, ...] = ()  # files of the task folder to embed, in this order, when present
    tables: Callable[[Path, Path], list[Table]] | None = None  # (task folder, study folder) -> extra tables

    @property
    def sweep(self) -> bool:
        return "-m" in self.args


class StepStatus(StrEnum):
    """How one step of the study went in this invocation."""

    RAN = "ran"
    REUSED = "reused"  # finished in an earlier invocation with the same command
    FAILED = "failed"
    NO_DATA = "no data"
    NOT_SELECTED = "not selected"


@dataclass
class StepOutcome:
    status: StepStatus
    command: str = ""
    seconds: float | None = None
    message: str = ""


def _read_csv(path: Path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError):
        return None


def _epoch_table(run: Path, study: Path) -> list[Table]:
    """Per-epoch learning curves as numbers (metrics.csv)."""
    df = _read_csv(run / METRICS)
    if df is None:
        return []
    cols = [c for c in ("epoch", "train_loss", "val_loss", "train_acc", "val_acc", "lr", "time_s") if c in df]
    return [Table("Per epoch (metrics.csv)", cols, df[cols].values.tolist())]


def _pixel_vs_row(run: Path, study: Path) -> list[Table]:
    rows = []
    for name, folder in (("row by row (28 × 28)", study / "mnist_classify"), ("pixel by pixel (784 × 1)", run)):
        r = read_result(folder)
        if r:
            test = r.get("test") or {}
            rows.append(
                [name, r.get("status"), r.get("epochs_run"), test.get("acc"), test.get("recon"), r.get("wall_time_s")]
            )
    header = ["input", "status", "epochs", "test accuracy", "test reconstruction MSE", "wall time (s)"]
    caption = "Row by row (section MNIST classification) vs pixel by pixel"
    return [Table(caption, header, rows)] + _epoch_table(run, study)


def _cv_folds(run: Path, study: Path) -> list[Table]:
    cv = read_result(run).get("cv") or {}
    rows = [
        [f["fold"], f["status"], f["best_val_loss"], f["best_epoch"], f["epochs_run"], f["train_size"], f["val_size"]]
        for f in cv.get("folds", [])
    ]
    caption = f"Cross-validation, {cv.get('k', '?')} folds: validation loss {_fmt(cv.get('val_loss_mean'))} ± "
    caption += f"{_fmt(cv.get('val_loss_std'))}; kept fold {cv.get('kept_fold', '-')} (evaluated once on test)"
    header = ["fold", "status", "best val loss", "best epoch", "epochs", "train windows", "val windows"]
    return [Table(caption, header, rows)] if rows else []


def _in_units(metrics: dict, prefix: str):
    """The value of the metric named prefix_<units suffix> (e.g. recon_rmse_dollars), or None."""
    return next((v for k, v in metrics.items() if k.startswith(prefix + "_")), None)


def _forecasts(run: Path, study: Path) -> list[Table]:
    test = read_result(run).get("test") or {}
    units = test.get("units", "real units")
    multi = test.get("multi_step") or {}
    rows = []
    for name, m in (
        ("one-step, every test day", test.get("one_step")),
        ("multi-step (whole horizon)", multi),
        ("one-step, same days as multi-step", multi.get("one_step_same_days")),
    ):
        if m:
            numbers = [m.get(k) for k in ("n", "model_mse", "persistence_mse", "ratio")]
            in_units = [_in_units(m, "model_rmse"), _in_units(m, "persistence_rmse")]
            rows.append([name, *numbers, *in_units, m.get("model_beats_persistence")])
    header = ["forecast", "n", "model MSE", "persistence MSE", "ratio", f"model RMSE ({units})",
              f"persistence RMSE ({units})", "model better"]  # fmt: skip
    tables = [Table("Forecasts vs persistence (MSE normalized; RMSE in real units)", header, rows)] if rows else []
    df = _read_csv(run / "error_vs_horizon.csv")
    if df is not None and len(df) and "horizon" in df:
        cols = ["horizon", *(c for c in df.columns if c.endswith("_mse") and ("model" in c or "persistence" in c))]
        picked = df[df["horizon"].isin([1, 2, 5, 10, 20, 30, 40, int(df["horizon"].max())])]
        caption = "Error vs horizon (error_vs_horizon.csv, normalized MSE, selected horizons)"
        tables.append(Table(caption, cols, picked[cols].values.tolist()))
    return tables


STEPS: tuple[StudyStep, ...] = (
    StudyStep(
        "toy_examples",
        "Toy signals: examples and one reconstruction run",
        "Synthetic sequences (uniform noise with a dip) and one model's test reconstructions and learning curves.",
        ("dataset=toy", "model.hidden=32"),
        quick=("dataset.size=4000", "trainer.epochs=10"),
        figures=("examples.png", "reconstructions.png", "loss.png"),
    ),
    StudyStep(
        "toy_grid",
        "Toy signals: grid of hidden size × learning rate × gradient clipping",
        "Every combination of the grid trains once; the table lists the trials best first.",
        ("-m", "experiment=toy_grid"),
        quick=(
            "dataset.size=2000",
            "trainer.epochs=3",
            "model.hidden=16,48",
            "optimizer.lr=0.001,0.01",
            "trainer.grad_clip=0,0.02",
        ),
        figures=("objective_vs_params.png", "val_curves.png", "best_reconstructions.png", "optuna_importances.png"),
    ),
    StudyStep(
        "toy_capacity",
        "Toy signals: reconstruction vs capacity",
        "One trial per hidden size: how the context size limits the reconstruction, beside PCA with as many "
        "components (the best linear code of that size, fit on the training split) and the mean training item.",
        ("-m", "experiment=toy_capacity"),
        quick=("dataset.size=2000", "trainer.epochs=3", "model.hidden=4,16,48"),
        figures=("test_vs_hidden.png", "val_curves.png", "best_reconstructions.png"),
    ),
    StudyStep(
        "mnist_reconstruct",
        "MNIST row by row: reconstruction",
        "Each image is a sequence of 28 rows of 28 pixels; originals above their reconstructions.",
        ("experiment=mnist_reconstruct",),
        quick=(*MNIST_QUICK, "trainer.epochs=2"),
        data="mnist",
        figures=("examples.png", "reconstructions.png", "loss.png"),
        tables=_epoch_table,
    ),
    StudyStep(
        "mnist_classify",
        "MNIST row by row: reconstruction + classification",
        "The context z also feeds a 10-class head; loss and accuracy curves per epoch, test accuracy.",
        ("experiment=mnist_classify",),
        quick=(*MNIST_QUICK, "trainer.epochs=3"),
        data="mnist",
        figures=("accuracy.png", "loss.png", "reconstructions.png"),
        tables=_epoch_table,
    ),
    StudyStep(
        "mnist_pixel",
        "MNIST pixel by pixel vs row by row",
        "The same images as 784 steps of one pixel: a far longer memory for the same model size.",
        ("experiment=mnist_pixel",),
        quick=("dataset.train_subset=1000", "dataset.val_size=250", "dataset.test_subset=250", "trainer.epochs=1"),
        data="mnist",
        figures=("accuracy.png", "loss.png", "reconstructions.png"),
        tables=_pixel_vs_row,
    ),
    StudyStep(
        "snp500_reconstruct",
        "S&P 500: reconstruction with cross-validation",
        "Daily highs in windows of 50 trading days, split by stock; k-fold cross-validation on train+val, "
        "the kept fold evaluated once on the test stocks (errors also in dollars).",
        ("experiment=snp500_reconstruct",),
        quick=("dataset.stride=25", "trainer.epochs=2"),
        data="snp500",
        figures=("snp500_stocks.png", "cv_folds.png", "reconstructions.png", "loss.png"),
        tables=_cv_folds,
    ),
    StudyStep(
        "snp500_predict",
        "S&P 500: next-day and multi-step prediction vs persistence",
        "Reconstruction + next-day prediction; honest forecasts (each window ends at the last known value) "
        "compared with persistence (tomorrow = today), one step and many steps ahead.",
        ("experiment=snp500_predict",),
        quick=("dataset.stride=25", "trainer.epochs=2", "task.forecast_every=5"),
        data="snp500",
        figures=(
            "forecast_one_step.png",
            "forecast_multi_step.png",
            "error_vs_horizon.png",
            "prediction_loss.png",
            "reconstructions.png",
        ),
        tables=_forecasts,
    ),
)
KEYS = [t.key for t in STEPS]

WHAT_TO_DO = {
    "mnist": "put the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
    "t10k-labels-idx1-ubyte, plain or .gz) into <root>/MNIST/raw/ and pass --mnist-root <root>, or run where the "
    "internet is reachable (the dataset config downloads them)",
    "snp500": 'download the Kaggle dataset "S&P 500 stock prices 2014-2017" (one CSV, plain or .gz) and pass '
    "--snp500-csv <csv>",
}


# -- commands -----------------------------------------------------------------------------------------
def _value(text: str) -> str:
    """A path as a Hydra override value (quoted when it holds characters Hydra's grammar would parse)."""
    if re.fullmatch(r"[\w./:+-]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def task_args(
    task: StudyStep, folder: Path, quick: bool, data_args: dict[str, list[str]], extra: list[str]
) -> list[str]:
    """The run.py arguments of one task in this study."""
    dir_key = "hydra.sweep.dir" if task.sweep else "hydra.run.dir"
    return [
        *task.args,
        *(data_args.get(task.data, []) if task.data else []),
        *(task.quick if quick else ()),
        *extra,
        f"{dir_key}={_value(str(folder / task.key))}",
    ]


def show(args: list[str]) -> str:
    return "python run.py " + shlex.join(args)


def check_folders(plans: list[tuple[StudyStep, list[str]]], folder: Path) -> None:
    """A task folder made by another command (e.g. --quick vs full) is neither reused nor resumed: say so."""
    for task, args in plans:
        marker = read_json(folder / task.key / MARKER)
        if marker and marker.get("args") != args:
            print(
                f"error: {folder / task.key} was made by another command ({show(marker.get('args', []))}); "
                "use a new study folder or delete that sub-folder",
                file=sys.stderr,
            )
            raise SystemExit(2)


def reusable(task: StudyStep, run_dir: Path, args: list[str]) -> bool:
    marker = read_json(run_dir / MARKER)
    if marker.get("args") != args or marker.get("returncode") != 0:
        return False
    return task.sweep or read_result(run_dir).get("status") in {s for s in RunStatus if s.finished}


def _error_line(log_path: Path) -> str:
    """The run's one-line error (run.py prints 'error: ...'), else the log's last line."""
    try:
        lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if ln.startswith("error:") or re.match(r"^\w+(Error|Exception)\b", ln)]
    return (errors or lines or [""])[-1]


def run_task(task: StudyStep, folder: Path, args: list[str]) -> StepOutcome:
    run_dir = folder / task.key
    command = show(args)
    if reusable(task, run_dir, args):
        marker = read_json(run_dir / MARKER)
        return StepOutcome(StepStatus.REUSED, command, marker.get("wall_s"), f"Finished {marker.get('finished', '')}.")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / MARKER, {"args": args, "returncode": None})
    log_path = folder / "logs" / f"{task.key}.log"
    log_path.parent.mkdir(exist_ok=True)
    print(f"  {command}\n  (log: {log_path})", flush=True)
    start = time.perf_counter()
    with open(log_path, "w") as log:
        cmd = [sys.executable, str(RUN_PY), *args]
        rc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - start
    now = dt.datetime.now().isoformat(timespec="seconds")
    write_json(run_dir / MARKER, {"args": args, "returncode": rc, "wall_s": seconds, "finished": now})
    if rc != 0:
        return StepOutcome(StepStatus.FAILED, command, seconds, f"exit {rc}: {_error_line(log_path)} (log: {log_path})")
    return StepOutcome(StepStatus.RAN, command, seconds)


# -- the report ---------------------------------------------------------------------------------------
def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.4g}"
    return str(v)


def _cell(v) -> str:
    numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
    return f"<td{' class=num' if numeric else ''}>{html.escape(_fmt(v))}</td>"


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in t.rows)
    return f"<div class=scroll><table><caption>{html.escape(t.caption)}</caption><tr>{head}</tr>{body}</table></div>"


def _html_figure(path: Path) -> str:
    """The PNG inline; figures much wider than tall (side-by-side panels) or dense (>= 1.4 megapixels)
    take the full width, the others half of it."""
    png = path.read_bytes()
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # IHDR
    wide = " class=wide" if width > 1.8 * max(height, 1) or width * height >= 1.4e6 else ""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure{wide}><img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(path.name)}</figcaption></figure>"
    )


def run_table(result: dict) -> Table:
    """The numbers of one run's result.json: status, objective, test metrics, sizes, time."""
    rows = [
        ["status", result.get("status")],
        [f"objective ({result.get('objective_name', '')}, validation)", result.get("objective")],
        ["best epoch / epochs run", f"{result.get('best_epoch', '-')} / {result.get('epochs_run', '-')}"],
    ]
    test = result.get("test") or {}
    for key, value in test.items():
        if key == "recon" and value == test.get("loss"):
            continue  # reconstruction runs: the loss is the reconstruction error
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append([f"test {key}", value])
    sizes = " / ".join(_fmt(result.get(k)) for k in ("train_size", "val_size", "test_size"))
    rows += [["train / val / test items", sizes], ["parameters", result.get("n_params")]]
    rows.append(["wall time inside the run (s)", result.get("wall_time_s")])
    if result.get("reason"):
        rows.append(["reason", result["reason"]])
    return Table("Run result (result.json; test metrics from the best checkpoint)", ["quantity", "value"], rows)


def sweep_table(sweep_dir: Path) -> Table | None:
    df = _read_csv(sweep_dir / SUMMARY_CSV)
    if df is None or df.empty:
        return None
    skip = {"folder", "objective_name", "direction", "pareto"}
    if "reason" in df and df["reason"].isna().all():
        skip.add("reason")
    if "test_recon" in df and "test_loss" in df and df["test_recon"].equals(df["test_loss"]):
        skip.add("test_recon")  # reconstruction: the loss is the reconstruction error
    params = list(df.columns[1 : list(df.columns).index("status")]) if "status" in df else []
    fixed = [c for c in params if df[c].astype(str).nunique() == 1 and len(params) > 1]
    cols = [c for c in df.columns if c not in skip and c not in fixed]
    names = df["objective_name"].dropna() if "objective_name" in df else []
    header = [f"objective ({names.iloc[0]})" if c == "objective" and len(names) else c for c in cols]
    caption = "Trials, best first (summary.csv)"
    if fixed:
        caption += "; in every trial: " + ", ".join(f"{c}={df[c].iloc[0]}" for c in fixed)
    return Table(caption, header, df[cols].values.tolist())


def headline(task: StudyStep, run_dir: Path) -> str:
    """One number for the overview table."""
    if task.sweep:
        df = _read_csv(run_dir / SUMMARY_CSV)
        if df is None or df.empty:
            return ""
        best = df.iloc[0]
        return f"best {best.get('objective_name', 'objective')} {_fmt(best['objective'])} (trial {best['trial']})"
    test = read_result(run_dir).get("test") or {}
    if "one_step_ratio" in test:
        return f"one-step MSE {_fmt(test['one_step_ratio'])}× persistence's"
    if "acc" in test:
        return f"test accuracy {100 * test['acc']:.2f} %"
    if _in_units(test, "recon_rmse") is not None:
        return f"test reconstruction RMSE {_fmt(_in_units(test, 'recon_rmse'))} {test.get('units', '')}".rstrip()
    return f"test MSE {_fmt(test.get('recon', test.get('loss')))}" if test else ""


def section_html(task: StudyStep, outcome: StepOutcome, folder: Path) -> str:
    run_dir = folder / task.key
    parts = [f'<section id="{task.key}"><h2>{html.escape(task.title)}</h2>', f"<p>{html.escape(task.about)}</p>"]
    if outcome.command:
        parts.append("<p class=cmd-label>Command (run in the repository root):</p>")
        parts.append(f"<pre>{html.escape(outcome.command)}</pre>")
    state = {StepStatus.RAN: "ran now", StepStatus.REUSED: "reused (finished earlier)"}.get(
        outcome.status, outcome.status
    )
    timing = f", {outcome.seconds:.0f} s" if outcome.seconds is not None else ""
    css = outcome.status.replace(" ", "-")
    parts.append(f'<p class="status {css}">Status: {html.escape(state)}{timing}. {html.escape(outcome.message)}</p>')
    if outcome.status in (StepStatus.RAN, StepStatus.REUSED, StepStatus.FAILED) and run_dir.exists():
        tables = []
        if task.sweep:
            tables.append(sweep_table(run_dir))
        elif (run_dir / RESULT).exists():
            tables.append(run_table(read_result(run_dir)))
        if task.tables:
            tables += task.tables(run_dir, folder)
        parts += [_html_table(t) for t in tables if t and t.rows]
        figures = [_html_figure(run_dir / f) for f in task.figures if (run_dir / f).is_file()]
        if figures:
            parts.append('<div class="figures">' + "".join(figures) + "</div>")
        parts.append(f"<p class=folder>Folder: {html.escape(str(run_dir))}</p>")
    parts.append("</section>")
    return "\n".join(parts)


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222;
       line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
pre { background: #f4f4f4; padding: 0.6em; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.85em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; flex: 0 1 calc(50% - 0.5em); break-inside: avoid; } figure.wide { flex-basis: 100%; }
.scroll { overflow-x: auto; }
img { width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #666; }
.status { font-weight: 600; } .failed, .no-data { color: #a00; } .ran, .reused { color: #070; }
.folder, .meta { font-size: 0.85em; color: #555; } .cmd-label { margin-bottom: 0; }
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} logical CPUs, {gpu}, Python {platform.python_version()}, torch {torch.__version__}"


def write_report(folder: Path, outcomes: dict[str, StepOutcome], quick: bool, started: str, load: float) -> Path:
    rows = []
    for t in STEPS:
        o = outcomes[t.key]
        note = headline(t, folder / t.key) if o.status in (StepStatus.RAN, StepStatus.REUSED) else o.message
        seconds = f"{o.seconds:.0f}" if o.seconds is not None else ""
        cells = [f'<a href="#{t.key}">{html.escape(t.title)}</a>', html.escape(o.status), seconds, html.escape(note)]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    overview = "<table><caption>Sections</caption><tr><th>section</th><th>status</th><th>time (s)</th>"
    overview += "<th>headline</th></tr>" + "".join(rows) + "</table>"
    now = dt.datetime.now().isoformat(timespec="seconds")
    mode = "--quick (subsets, few epochs: the numbers show the pipeline, not the study's results)" if quick else "full"
    command = shlex.join(["python", "-m", "lstm_ae.apps.report", *sys.argv[1:]])
    meta = (
        f"<p class=meta>Study folder: {html.escape(str(folder))}<br>Mode: {html.escape(mode)}<br>"
        f"Machine: {html.escape(machine())}<br>Started {started}, written {now}; load average {load:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end (times are wall-clock: slower when the load exceeds the cores).<br>"
        f"Command: <code>{html.escape(command)}</code></p>"
    )
    body = "\n".join(section_html(t, outcomes[t.key], folder) for t in STEPS)
    page = (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>LSTM autoencoder study</title>"
        f"<style>{CSS}</style></head><body><h1>LSTM autoencoder study</h1>{meta}{overview}\n{body}</body></html>\n"
    )
    write_text(folder / REPORT, page)
    return folder / REPORT


def find_browser() -> str | None:
    return next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def browser_args(browser: str, profile: str) -> list[str]:
    """Headless Chromium as any user, root included (--no-sandbox), with a throwaway profile."""
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", "--hide-scrollbars"]  # fmt: skip


def print_pdf(html_path: Path) -> Path | None:
    """report.pdf through headless Chromium; None when no browser is installed or printing fails."""
    browser = find_browser()
    if browser is None:
        return None
    pdf = html_path.with_suffix(".pdf")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [*browser_args(browser, profile), "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html_path.as_uri()]
        try:
            subprocess.run(cmd, capture_output=True, timeout=300, check=True)
        except (subprocess.SubprocessError, OSError):
            return None
    return pdf if pdf.exists() else None


# -- command line -------------------------------------------------------------------------------------
def _default(dataset: str, key: str) -> str:
    from omegaconf import OmegaConf

    return str(OmegaConf.load(CONF_DIR / "dataset" / f"{dataset}.yaml")[key])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    about = "Run (or reuse when finished) every task of the study and write one self-contained report."
    p = argparse.ArgumentParser(prog="python -m lstm_ae.apps.report", description=about)
    p.add_argument("folder", type=Path, help="the study folder: one sub-folder per task, report.html")
    p.add_argument("--quick", action="store_true", help="data subsets, few epochs, small grids (minutes)")
    p.add_argument(
        "--mnist-root", help=f"folder holding MNIST/raw (default: dataset.root, {_default('mnist', 'root')})"
    )
    p.add_argument("--snp500-csv", help=f"the S&P 500 CSV (default: dataset.path, {_default('snp500', 'path')})")
    p.add_argument("--only", help=f"comma list of tasks to run and report (default all): {', '.join(KEYS)}")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="an override added to every command (repeatable), e.g. trainer.device=cuda")  # fmt: skip
    p.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = KEYS if not args.only else [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(selected) - set(KEYS))
    if unknown:
        print(f"error: --only: unknown task(s) {', '.join(unknown)}; allowed: {', '.join(KEYS)}", file=sys.stderr)
        return 2
    bad = [o for o in args.override if "=" not in o]
    if bad:
        print(f"error: --override {bad[0]!r} is not KEY=VALUE", file=sys.stderr)
        return 2
    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    data_args = {}
    if args.mnist_root:
        data_args["mnist"] = [f"dataset.root={_value(str(Path(args.mnist_root).resolve()))}"]
    if args.snp500_csv:
        data_args["snp500"] = [f"dataset.path={_value(str(Path(args.snp500_csv).resolve()))}"]
    csv = Path(args.snp500_csv).resolve() if args.snp500_csv else REPO / _default("snp500", "path")
    plans = [(t, task_args(t, folder, args.quick, data_args, args.override)) for t in STEPS if t.key in selected]
    check_folders(plans, folder)

    started, load = dt.datetime.now().isoformat(timespec="seconds"), os.getloadavg()[0]
    t0 = time.perf_counter()
    outcomes = {t.key: StepOutcome(StepStatus.NOT_SELECTED, message="Not selected (--only).") for t in STEPS}
    unavailable = {} if csv.is_file() else {"snp500": f"S&P 500 CSV not found at {csv}"}  # data -> why
    for i, (task, targs) in enumerate(plans, 1):
        print(f"[{i}/{len(plans)}] {task.key}", flush=True)
        if task.data in unavailable:
            why = f"{unavailable[task.data]}. To run it: {WHAT_TO_DO[task.data]}."
            outcome = StepOutcome(StepStatus.NO_DATA, show(targs), message=why)
        else:
            outcome = run_task(task, folder, targs)
            if outcome.status == StepStatus.FAILED and task.data and outcome.message.startswith("exit 2"):
                # stopped before training (one-line error): the data is missing or bad; later tasks would repeat it
                unavailable[task.data] = f"Not run: {task.key} stopped before training ({outcome.message})"
                outcome.message += f" If the data is missing: {WHAT_TO_DO[task.data]}."
        outcomes[task.key] = outcome
        print(f"  -> {outcome.status} {outcome.message}".rstrip(), flush=True)
    report = write_report(folder, outcomes, args.quick, started, load)
    pdf = None if args.no_pdf else print_pdf(report)
    print(f"study: {time.perf_counter() - t0:.0f} s; report: {report}" + (f" and {pdf}" if pdf else ""))
    not_done = [k for k, o in outcomes.items() if o.status in (StepStatus.FAILED, StepStatus.NO_DATA)]
    if not_done:
        print(f"not run or failed: {', '.join(not_done)} (the report says why)")
    return 1 if not_done else 0


if __name__ == "__main__":
    raise SystemExit(main())
