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
import datetime as dt
import html
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lstm_ae.apps import report_content as content
from lstm_ae.apps.preflight import CONF_DIR
from lstm_ae.artifacts import write_json, write_text
from lstm_ae.files import RunStatus, read_json, read_result

REPO = CONF_DIR.parent
RUN_PY = REPO / "run.py"
MARKER = "study_command.json"  # in each task folder: the command, its exit code and wall time
REPORT = "report.html"
REPORT_FIGURES = "report_figures"  # the report's own figures, drawn from the folders' numbers
CONFIRM = "hydra.sweeper.confirm_seeds=2"  # the best two configurations rerun with two more seeds: their spread
MNIST_QUICK = ("dataset.train_subset=5000", "dataset.val_size=1000", "dataset.test_subset=1000")


# -- the tasks ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StudyStep:
    key: str  # the folder under the study folder, and the section's anchor
    title: str
    about: str  # what the section shows, one paragraph
    args: tuple[str, ...]  # run.py arguments: preset and overrides ("-m" first for a sweep)
    quick: tuple[str, ...] = ()  # added with --quick
    data: str | None = None  # "mnist" or "snp500": the data the task needs

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


STEPS: tuple[StudyStep, ...] = (
    StudyStep(
        "toy_examples",
        "Toy signals: examples and one reconstruction run",
        "Synthetic sequences (uniform noise with a dip) and one model's test reconstructions and learning curves.",
        ("dataset=toy", "model.hidden=32"),
        quick=("dataset.size=4000", "trainer.epochs=10"),
    ),
    StudyStep(
        "toy_grid",
        "Toy signals: grid of hidden size × learning rate × gradient clipping",
        "Every combination of the grid trains once; the best two rerun with two more seeds (their spread).",
        ("-m", "experiment=toy_grid", CONFIRM),
        quick=(
            "dataset.size=2000",
            "trainer.epochs=3",
            "model.hidden=16,48",
            "optimizer.lr=0.001,0.01",
            "trainer.grad_clip=0,0.02",
        ),
    ),
    StudyStep(
        "toy_capacity",
        "Toy signals: reconstruction vs capacity",
        "One trial per hidden size: how the context size limits the reconstruction, beside PCA with as many "
        "components (the best linear code of that size, fit on the training split) and the mean training item.",
        ("-m", "experiment=toy_capacity", CONFIRM),
        quick=("dataset.size=2000", "trainer.epochs=3", "model.hidden=4,16,48"),
    ),
    StudyStep(
        "mnist_reconstruct",
        "MNIST row by row: reconstruction",
        "Each image is a sequence of 28 rows of 28 pixels; originals above their reconstructions.",
        ("experiment=mnist_reconstruct",),
        quick=(*MNIST_QUICK, "trainer.epochs=2"),
        data="mnist",
    ),
    StudyStep(
        "mnist_classify",
        "MNIST row by row: reconstruction + classification",
        "The context z also feeds a 10-class head; loss and accuracy curves per epoch, test accuracy.",
        ("experiment=mnist_classify",),
        quick=(*MNIST_QUICK, "trainer.epochs=3"),
        data="mnist",
    ),
    StudyStep(
        "mnist_pixel",
        "MNIST pixel by pixel vs row by row",
        "The same images as 784 steps of one pixel: a far longer memory for the same model size.",
        ("experiment=mnist_pixel",),
        quick=("dataset.train_subset=1000", "dataset.val_size=250", "dataset.test_subset=250", "trainer.epochs=1"),
        data="mnist",
    ),
    StudyStep(
        "snp500_reconstruct",
        "S&P 500: reconstruction with cross-validation",
        "Daily highs in windows of 50 trading days, split by stock; k-fold cross-validation on train+val, "
        "the kept fold evaluated once on the test stocks (errors also in dollars).",
        ("experiment=snp500_reconstruct",),
        quick=("dataset.stride=25", "trainer.epochs=2"),
        data="snp500",
    ),
    StudyStep(
        "snp500_predict",
        "S&P 500: next-day and multi-step prediction vs persistence",
        "Reconstruction + next-day prediction; honest forecasts (each window ends at the last known value) "
        "compared with persistence (tomorrow = today), one step and many steps ahead.",
        ("experiment=snp500_predict",),
        quick=("dataset.stride=25", "trainer.epochs=2", "task.forecast_every=5"),
        data="snp500",
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
GROUPS = {  # the assignment's parts, in its order: the first task of each opens the part
    "toy_examples": ("1 Synthetic signals", "Sequences of 50 values in [0, 1] with a dip; reconstruction, a grid "
                     "search and the error against the context size."),
    "mnist_reconstruct": ("2 MNIST", "Images as sequences: row by row (28 steps of 28 pixels) and pixel by pixel "
                          "(784 steps of one pixel); reconstruction, then classification from the context."),
    "snp500_reconstruct": ("3 S&P 500 daily highs", "Windows of 50 trading days, split by stock; reconstruction "
                           "with cross-validation, then next-day and multi-step prediction."),
}  # fmt: skip
QUICK_BANNER = "PIPELINE CHECK (--quick: subsets, few epochs) — these numbers are not results"


def section_html(task: StudyStep, outcome: StepOutcome, folder: Path, ctx: content.Ctx) -> tuple[str, content.Content]:
    run_dir = folder / task.key
    found = content.Content()
    if outcome.status in (StepStatus.RAN, StepStatus.REUSED, StepStatus.FAILED) and run_dir.exists():
        try:
            found = content.SECTIONS[task.key](run_dir, ctx)
        except Exception as exc:  # a folder the section cannot read: say so, the rest of the report is written
            found = content.Content(
                blocks=[f"<p class=failed>This section could not be built: {html.escape(repr(exc))}</p>"]
            )
    parts = []
    if task.key in GROUPS:
        title, about = GROUPS[task.key]
        parts.append(f"<h2>{html.escape(title)}</h2><p>{html.escape(about)}</p>")
    parts += [f'<section id="{task.key}"><h3>{html.escape(task.title)}</h3>', f"<p>{html.escape(task.about)}</p>"]
    parts.append(found.architecture)
    state = {StepStatus.RAN: "ran now", StepStatus.REUSED: "reused (finished earlier)"}.get(
        outcome.status, outcome.status
    )
    timing = f", {outcome.seconds:.0f} s" if outcome.seconds is not None else ""
    css = outcome.status.replace(" ", "-")
    parts.append(f'<p class="status {css}">Status: {html.escape(state)}{timing}. {html.escape(outcome.message)}</p>')
    if found.reading:
        parts.append("<p class=reading><b>Reading.</b> " + html.escape(" ".join(found.reading)) + "</p>")
    parts += [b for b in found.blocks if b]
    if outcome.command:
        parts.append(f"<p class=cmd><b>Command</b> (repository root): <code>{html.escape(outcome.command)}</code>"
                     f"<br>Folder: {html.escape(str(run_dir))}</p>")  # fmt: skip
    parts.append("</section>")
    return "\n".join(parts), found


CSS = """
@page { size: A4; margin: 15mm 13mm 13mm; @bottom-right { content: "page " counter(page) " of " counter(pages);
        font: 8pt sans-serif; color: #555; } }
body { font-family: "DejaVu Sans", system-ui, sans-serif; font-size: 9.5pt; width: 7.2in; margin: 0.3in auto;
       color: #222; line-height: 1.35; }
h1 { font-size: 16pt; margin: 0 0 0.2em; } h2 { font-size: 13pt; border-bottom: 2px solid #ccc; margin: 1em 0 0.3em; }
h3 { font-size: 11pt; margin: 0.9em 0 0.3em; } p { margin: 0.35em 0; }
code { font-size: 8pt; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 0.2em 0; font-size: 8.5pt; max-width: 100%; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.2em; }
th, td { border: 1px solid #ccc; padding: 0.1em 0.35em; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.block { margin: 0.4em 0; break-inside: avoid; } .note { font-size: 8.5pt; color: #444; margin: 0.1em 0; }
.figures { display: flex; flex-wrap: wrap; gap: 0.1in; align-items: flex-start; margin: 0.3em 0; }
figure { margin: 0; break-inside: avoid; max-width: 100%; } .figures > .block { margin: 0; flex: 1 1 3.4in; }
img { width: 100%; display: block; }
figcaption { font-size: 8pt; color: #555; }
.arch { background: #f6f6fa; padding: 0.3em 0.5em; border-left: 3px solid #88a; }
.reading { border-left: 3px solid #8a8; padding-left: 0.5em; }
.status { font-weight: 600; font-size: 8.5pt; } .failed, .no-data { color: #a00; } .ran, .reused { color: #070; }
.facts, .cmd, .meta { font-size: 8pt; color: #555; }
.banner { color: #a00; font-weight: 700; border: 2px solid #a00; padding: 0.2em 0.5em; }
"""


def quick_css() -> str:
    return f'@page {{ @top-center {{ content: "{QUICK_BANNER}"; color: #a00; font: 700 9pt sans-serif; }} }}\n'


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


def glance_table(rows: list[tuple[StudyStep, StepOutcome, content.Content]]) -> str:
    body = []
    for t, o, c in rows:
        g = c.glance
        cells = [f'<a href="#{t.key}">{html.escape(t.title)}</a>']
        if g and o.status in (StepStatus.RAN, StepStatus.REUSED):
            cells += [html.escape(g.measured), html.escape(g.references), html.escape(g.verdict)]
        else:
            cells += [html.escape(str(o.status)), "", html.escape(o.message[:160])]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "<tr><th>task</th><th>measured</th><th>references</th><th>against them</th></tr>"
    return f"<div class=block><table><caption>Results at a glance</caption>{head}{''.join(body)}</table></div>"


def write_report(folder: Path, outcomes: dict[str, StepOutcome], quick: bool, started: str, load: float) -> Path:
    ctx = content.Ctx(folder, quick, folder / REPORT_FIGURES)
    ctx.fig_dir.mkdir(exist_ok=True)
    built = [(t, outcomes[t.key], *section_html(t, outcomes[t.key], folder, ctx)) for t in STEPS]
    now = dt.datetime.now().isoformat(timespec="seconds")
    mode = "--quick: a pipeline check (subsets, few epochs), not the study's results" if quick else "full"
    command = shlex.join(["python", "-m", "lstm_ae.apps.report", *sys.argv[1:]])
    meta = (
        f"<p class=meta>Mode: {html.escape(mode)}. Study folder {html.escape(str(folder))}. "
        f"Machine: {html.escape(machine())}. Started {started}, written {now}; load average {load:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end (times are wall-clock). Command: <code>{html.escape(command)}</code></p>"
    )
    intro = (
        "<p>LSTM autoencoders (an encoder LSTM compresses a sequence into its last hidden state z; a decoder LSTM fed z "
        "at every step rebuilds it) on three kinds of sequences, in the assignment's order. Every number stands beside "
        "a reference that needs no learning: PCA with as many components as the context and the mean training item for "
        "reconstruction, chance for accuracy, persistence (tomorrow = today) and AR(1) for forecasts.</p>"
    )
    banner = f"<p class=banner>{html.escape(QUICK_BANNER)}</p>" if quick else ""
    glance = glance_table([(t, o, c) for t, o, _, c in built])
    body = "\n".join(h for _, _, h, _ in built)
    css = CSS + (quick_css() if quick else "")
    page = (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>LSTM autoencoder study</title>"
        f"<style>{css}</style></head><body><h1>LSTM autoencoder study</h1>{banner}{intro}{glance}{meta}\n{body}"
        "</body></html>\n"
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
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: rebuild the report from what the folder holds (each task as its own command "
                   "left it; --quick follows from those commands)")  # fmt: skip
    return p.parse_args(argv)


def folder_outcomes(folder: Path) -> tuple[dict[str, StepOutcome], bool]:
    """Each task as the folder has it (--report-only), and whether its commands were --quick ones."""
    outcomes, quick = {}, []
    for t in STEPS:
        marker = read_json(folder / t.key / MARKER)
        if not marker:
            outcomes[t.key] = StepOutcome(StepStatus.NOT_SELECTED, message="Not run in this folder.")
            continue
        args = marker.get("args", [])
        quick.append(bool(t.quick) and all(q in args for q in t.quick))
        if reusable(t, folder / t.key, args):
            outcomes[t.key] = StepOutcome(StepStatus.REUSED, show(args), marker.get("wall_s"),
                                          f"Finished {marker.get('finished', '')}.")  # fmt: skip
        else:
            rc = marker.get("returncode")
            why = (
                "interrupted (no exit code)" if rc is None else f"exit {rc} (log: {folder / 'logs' / (t.key + '.log')})"
            )
            outcomes[t.key] = StepOutcome(StepStatus.FAILED, show(args), marker.get("wall_s"), why)
    return outcomes, any(quick)


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
    if args.report_only:
        if not folder.is_dir():
            print(f"error: --report-only: no study folder {folder}", file=sys.stderr)
            return 2
        outcomes, quick = folder_outcomes(folder)
        report = write_report(folder, outcomes, quick, "-", os.getloadavg()[0])
        pdf = None if args.no_pdf else print_pdf(report)
        print(f"report: {report}" + (f" and {pdf}" if pdf else ""))
        return 0
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
