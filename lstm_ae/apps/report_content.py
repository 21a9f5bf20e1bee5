"""What each section of the study report says: the architecture of the task's model (from the run's own
config), the numbers beside their references (PCA-k and the mean item for reconstruction, chance for
accuracy, persistence and AR for forecasts), the figures sized for print, and a two-sentence reading
written from the numbers. lstm_ae.apps.report runs the study and assembles the page from these parts."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lstm_ae.figures import report as figs
from lstm_ae.figures.style import png_info
from lstm_ae.files import FINISHED, METRICS, SUMMARY_CSV, read_result
from lstm_ae.run.outputs import honest_share_text
from lstm_ae.sweep import confirm

TARGET_FONT = 9.0  # points: a figure is shown at the width where its smallest font has this size
MIN_FONT = 8.0  # points: below this a figure is unreadable in print (tests/apps/test_report.py checks)
PAGE_HEIGHT = (
    9.4  # inches: the tallest a figure may be shown (A4's text height at the report's margins, less a caption)
)
CHANCE = 0.10  # ten balanced classes


@dataclass
class Glance:
    """One row of the report's first table: the headline number and what it is compared with."""

    measured: str
    references: str
    verdict: str


@dataclass
class Content:
    architecture: str = ""  # HTML
    blocks: list[str] = field(default_factory=list)  # HTML: tables and figure rows
    reading: list[str] = field(default_factory=list)  # sentences
    glance: Glance | None = None


@dataclass
class Ctx:
    study: Path
    quick: bool
    fig_dir: Path  # where the report's own figures are written


# -- formatting ------------------------------------------------------------------------------------------
def fmt(v, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.{digits}g}"
    return str(v)


def pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f} %"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


def table(caption: str, header: list[str], rows: list[list], note: str = "") -> str:
    def cell(v):
        numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
        return f"<td{' class=num' if numeric else ''}>{html.escape(fmt(v))}</td>"

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    foot = f"<p class=note>{html.escape(note)}</p>" if note else ""
    return f"<div class=block><table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>{foot}</div>"


def shown_width(path: Path) -> tuple[float, float | None]:
    """(width in inches the figure is shown at, its smallest font in points there): the width where the
    smallest font is TARGET_FONT, at most the column and at most PAGE_HEIGHT tall."""
    width, height, font = png_info(path)
    shown = width if font is None else width * TARGET_FONT / font
    shown = min(shown, figs.COLUMN, width * PAGE_HEIGHT / max(height, 1e-9))
    return shown, (None if font is None else font * shown / width)


def figure(path: Path, caption: str) -> str:
    if not path.is_file():
        return ""
    shown, font = shown_width(path)
    if font is not None and font < MIN_FONT:  # too dense for a page: say where it is instead
        return (
            f"<p class=facts>{html.escape(path.name)} (in the folder): too dense to print legibly "
            f"(smallest font {font:.1f} pt at the page's width).</p>"
        )
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure style="width:{shown:.3f}in"><img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def figures(*items: str) -> str:
    items = [i for i in items if i]
    return '<div class="figures">' + "".join(items) + "</div>" if items else ""


def _csv(path: Path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError):
        return None


def _config(run: Path) -> dict:
    from omegaconf import OmegaConf

    path = run / ".hydra" / "config.yaml"
    return OmegaConf.to_container(OmegaConf.load(path)) if path.is_file() else {}


# -- the architecture -----------------------------------------------------------------------------------
def architecture(cfg: dict, shape: str) -> str:
    """The model of this run in one formula block: encoder, context, decoder, output, heads."""
    if not cfg:
        return ""
    m, task = cfg.get("model", {}), cfg.get("task", {})
    hidden = m.get("hidden", "?")
    reads = "x<sub>t</sub> − 0.5" if m.get("center_input") else "x<sub>t</sub>"
    start = "h̃<sub>0</sub> = z" if m.get("decoder_h0") == "z" else "h̃<sub>0</sub> = 0"
    order = ", emitting x<sub>T</sub> first" if m.get("reverse_output") else ""
    lines = [
        f"<b>Architecture.</b> Input {shape}. Encoder LSTM (hidden {hidden}) reads {reads} → context "
        f"<b>z = h<sub>T</sub></b> ∈ ℝ<sup>{hidden}</sup> → <b>decoder</b> LSTM fed z at every one of the T steps "
        f"({start}{order}) → x̃<sub>t</sub> = σ(U h̃<sub>t</sub>); loss MSE(x̃, x)."
    ]
    name = task.get("name")
    if name == "classify":
        source = "z" if task.get("class_from", "z") == "z" else "h̃<sub>T</sub> (the decoder's last state)"
        lines.append(
            f"Classification head: logits = W {source} + b (10 classes), loss MSE + {fmt(task.get('ce_weight', 1))} × "
            "cross-entropy."
        )
    elif name == "predict":
        if task.get("residual"):
            head = "x̂<sub>t+1</sub> = x<sub>t</sub> + V h̃<sub>t</sub>"
            if task.get("linear_skip"):
                head += " + a (x<sub>t</sub> − x<sub>t−1</sub>)"
        else:
            head = "x̂<sub>t+1</sub> = σ(V h̃<sub>t</sub>)"
        lines.append(
            f"Prediction head on the decoder's states: {head}; loss MSE(x̃, x) + {fmt(task.get('pred_weight'))} × "
            "MSE(x̂, x<sub>t+1</sub>), the last step (the honest next-day forecast) weighted "
            f"{fmt(task.get('last_weight'))}×. Multi-step: each forecast is fed back as the next input."
        )
    recipe = [k for k in ("orthogonal_init",) if m.get(k)]
    if m.get("forget_bias") is not None:
        recipe.append(f"forget bias {fmt(m['forget_bias'])}")
    extra = f" {', '.join(r.replace('_', ' ') for r in recipe).capitalize()}." if recipe else ""
    opt, tr = cfg.get("optimizer", {}), cfg.get("trainer", {})
    train = (
        f" Adam, peak lr {fmt(opt.get('lr'))}, batch {tr.get('batch_size')}, "
        f"clipping {fmt(tr.get('grad_clip'))}, at most {tr.get('epochs')} epochs."
    )
    return "<p class=arch>" + " ".join(lines) + extra + train + "</p>"


# -- reconstruction against its references -------------------------------------------------------------------
@dataclass
class Recon:
    model: float | None
    pca: float | None
    mean: float | None
    k: int | None
    note: str

    @classmethod
    def of(cls, result: dict) -> Recon:
        test, ref = result.get("test") or {}, result.get("reference") or {}
        model = test.get("recon", test.get("loss"))
        return cls(model, test.get("pca_recon"), test.get("mean_recon"), ref.get("k"), ref.get("note", ""))

    @property
    def copies(self) -> bool:
        return "can copy its input" in self.note

    def references(self) -> str:
        pca = "PCA exact (context ≥ item)" if self.copies else f"PCA-{self.k} {fmt(self.pca)}"
        return f"{pca}; mean item {fmt(self.mean)}"

    def judgement(self) -> str:
        if self.model is None or self.mean is None:
            return "no test numbers"
        if self.model >= self.mean:
            return "no better than the mean item"
        if self.pca is not None and not self.copies and self.model <= self.pca:
            return "below PCA of its size"
        return "between the mean item and PCA"

    def sentence(self) -> str:
        if self.model is None or self.mean is None:
            return "The run has no test reconstruction error."
        vs_mean = f"{ratio(self.model, self.mean):.2f}× the mean item's {fmt(self.mean)}"
        if self.copies:
            return (
                f"Test MSE {fmt(self.model)} is {vs_mean}; the context is as large as an item, so PCA copies the input "
                "exactly and only the mean is a fair reference."
            )
        vs_pca = (
            f"{ratio(self.model, self.pca):.2f}× PCA-{self.k}'s {fmt(self.pca)}" if self.pca else "PCA not computed"
        )
        return f"Test MSE {fmt(self.model)} is {vs_pca} and {vs_mean}: {self.judgement()}."

    def row(self, name: str) -> list:
        pca = "exact" if self.copies else self.pca
        return [name, self.model, pca, self.mean, ratio(self.model, self.pca) if not self.copies else None,
                ratio(self.model, self.mean)]  # fmt: skip


RECON_HEADER = ["", "test MSE", "PCA-k MSE", "mean item MSE", "÷ PCA-k", "÷ mean item"]


def recon_table(rows: list[list], k: int | None) -> str:
    caption = f"Test reconstruction MSE beside its references (PCA with k = {k} components and the mean training item)"
    return table(caption, RECON_HEADER, rows)


def seeds_sentence(ctx: Ctx) -> str:
    if ctx.quick:
        return "A pipeline check (--quick: subsets, few epochs): these numbers are not results."
    return "One seed: the seed-to-seed spread is not measured here (docs/results.md has runs over seeds)."


def _epochs(result: dict) -> str:
    cv = result.get("cv") or {}
    if result.get("epochs_run") is None and cv.get("folds"):
        kept = next((f for f in cv["folds"] if f["fold"] == cv.get("kept_fold")), cv["folds"][0])
        return f"{kept.get('best_epoch', '-')} / {kept.get('epochs_run', '-')} (kept fold {kept['fold']})"
    return f"{result.get('best_epoch', '-')} / {result.get('epochs_run', '-')}"


def run_facts(result: dict) -> str:
    sizes = " / ".join(fmt(result.get(k)) for k in ("train_size", "val_size", "test_size"))
    wall = result.get("wall_time_s")
    return (
        f"<p class=facts>Status {html.escape(str(result.get('status', '?')))}; best epoch / epochs run "
        f"{html.escape(_epochs(result))}; train / val / test items {sizes}; {fmt(result.get('n_params'))} parameters; "
        f"{fmt(wall, 3)} s.</p>"
    )


def loss_curve(
    run: Path,
    ctx: Ctx,
    name: str,
    title: str,
    columns=(("train_loss", "train"), ("val_loss", "validation")),
    caption: str = "",
):
    df = _csv(run / METRICS)
    if df is None or df.empty:
        return ""
    lines = [figs.Line(label, df["epoch"], df[c]) for c, label in columns if c in df]
    path = ctx.fig_dir / name
    figs.curves(lines, "loss", path, title, logy=True)
    return figure(path, f"{title} (metrics.csv)" + (f": {caption}" if caption else ""))


# -- sections ---------------------------------------------------------------------------------------------
def toy_examples(run: Path, ctx: Ctx) -> Content:
    result = read_result(run)
    r = Recon.of(result)
    blocks = [
        run_facts(result),
        figures(
            loss_curve(run, ctx, "toy_loss.png", "Toy: loss vs epoch"),
            recon_table([r.row("LSTM autoencoder")], r.k),
        ),
        figures(
            figure(
                run / "reconstructions.png",
                "Test signals (examples of the data) and their reconstructions, PCA's "
                "beside them (examples.png in the folder shows training signals)",
            ),
        ),
    ]
    return Content(
        architecture(_config(run), "T = 50 steps of F = 1 value"),
        blocks,
        [r.sentence(), seeds_sentence(ctx)],
        Glance(f"test MSE {fmt(r.model)}", r.references(), r.judgement()),
    )


def _sweep_frame(sweep: Path):
    df = _csv(sweep / SUMMARY_CSV)
    if df is None or df.empty or "status" not in df:
        return None, []
    params = list(df.columns[1 : list(df.columns).index("status")])
    swept = [c for c in params if df[c].astype(str).nunique() > 1]
    return df, swept


def _params(row, swept: list[str]) -> str:
    return ", ".join(f"{k.split('.')[-1]}={fmt(row[k])}" for k in swept)


def confirmed_block(sweep: Path, swept_names: list[str], minimize: bool = True) -> tuple[str, str]:
    """The confirmed configurations (confirm.json) as a table and the verdict sentence; ('', '') without it."""
    found = confirm.load(sweep)
    if not found:
        return "", ""
    ranked = sorted(found, key=lambda c: c.mean if minimize else -c.mean)
    rows = []
    for c in ranked:
        params = ", ".join(
            f"{k.split('.')[-1]}={v}" for k, v in c.params.items() if k in swept_names or not swept_names
        )
        hw = c.half_width
        rows.append([c.trial, params, len(c.values), c.mean, "–" if hw is None else f"± {hw:.3g}",
                     ", ".join(f"{v:.4g}" for _, v in sorted(c.values.items()))])  # fmt: skip
    verdict = confirm.verdict(found, minimize).replace("**", "")
    caption = "The best configurations rerun over seeds (confirm.json): mean validation objective, 95 % t interval"
    return table(
        caption, ["trial", "configuration", "seeds", "mean", "95 % interval", "per seed"], rows, verdict
    ), verdict


def _spread_sentence(sweep: Path, swept: list[str], best_gap: float | None, ctx: Ctx) -> str:
    found = confirm.load(sweep)
    if len(found) >= 2:
        ranked = sorted(found, key=lambda c: c.mean)
        a, b = ranked[0], ranked[1]
        hw = max(h for h in (a.half_width, b.half_width, 0.0) if h is not None)
        beyond = b.mean - a.mean > hw
        return (
            f"Over {len(a.values)} seeds the best configuration averages {fmt(a.mean)} against {fmt(b.mean)}: a gap "
            f"of {fmt(b.mean - a.mean, 2)}, {'beyond' if beyond else 'within'} the seed-to-seed spread (95 % half-width "
            f"{fmt(hw, 2)}); {confirm.verdict(found, True).replace('**', '').split(': ', 1)[-1]}."
        )
    base = "Each configuration ran with one seed, so the seed-to-seed spread is not measured"
    base += " (hydra.sweeper.confirm_seeds=N reruns the best ones)"
    return base + (" — and --quick numbers are a pipeline check, not results." if ctx.quick else ".")


def toy_grid(run: Path, ctx: Ctx) -> Content:
    df, swept = _sweep_frame(run)
    if df is None:
        return Content()
    ok = df[df["status"].isin(FINISHED)].sort_values("objective")
    best_dir = Path(str(ok.iloc[0]["folder"])) if len(ok) and "folder" in ok else run
    best_result = read_result(best_dir)
    r = Recon.of(best_result)
    grid = _pivot(ok, swept)
    blocks = [grid] if grid else []
    path = ctx.fig_dir / "grid_objective.png"
    if swept:
        figs.grid_objective(ok, swept, path, "validation MSE")
    cblock, _ = confirmed_block(run, swept)
    blocks += [
        recon_table([r.row(f"best trial ({_params(ok.iloc[0], swept)})")], r.k) if len(ok) else "",
        cblock,
        figures(
            figure(path, "Validation MSE of every trial against each swept parameter (summary.csv)") if swept else "",
        ),
    ]
    reading = []
    if len(ok) >= 2:
        a, b = ok.iloc[0], ok.iloc[1]
        gap = (b["objective"] - a["objective"]) / a["objective"]
        reading.append(
            f"Best of {len(ok)} trials: {_params(a, swept)} with validation MSE {fmt(a['objective'])}; the runner-up "
            f"({_params(b, swept)}) is {100 * gap:.1f} % higher, and the best trial's {r.sentence()[0].lower()}"
            f"{r.sentence()[1:]}"
        )
        reading.append(_spread_sentence(run, swept, gap, ctx))
    glance = Glance(
        f"best val MSE {fmt(ok.iloc[0]['objective'])} ({_params(ok.iloc[0], swept)})" if len(ok) else "",
        r.references(),
        r.judgement(),
    )
    return Content(architecture(_config(best_dir), "T = 50 steps of F = 1 value"), blocks, reading, glance)


def _pivot(ok, swept: list[str]) -> str:
    """The grid's objectives as one compact table: the last swept parameter across, the others down."""
    if len(swept) < 2:
        return ""
    across, down = swept[-1], swept[:-1]
    pivot = ok.pivot_table(index=down, columns=across, values="objective", aggfunc="min")
    rows = [
        [*(idx if isinstance(idx, tuple) else (idx,)), *row] for idx, row in zip(pivot.index, pivot.values.tolist())
    ]
    header = [*(d.split(".")[-1] for d in down), *(f"{across.split('.')[-1]}={fmt(c)}" for c in pivot.columns)]
    caption = f"Validation MSE of every trial ({len(ok)} finished; summary.csv has every column)"
    return table(caption, header, rows)


def toy_capacity(run: Path, ctx: Ctx) -> Content:
    df, swept = _sweep_frame(run)
    if df is None or "model.hidden" not in df:
        return Content()
    ok = df[df["status"].isin(FINISHED)].copy()
    ok["recon"] = ok["test_recon"] if "test_recon" in ok else ok["test_loss"]
    best = ok.sort_values("recon").groupby("model.hidden").first().sort_index()
    hidden = [int(h) for h in best.index]
    model, pca = best["recon"].tolist(), best.get("test_pca_recon", best["recon"] * float("nan")).tolist()
    mean = best["test_mean_recon"].iloc[0] if "test_mean_recon" in best else None
    path = ctx.fig_dir / "capacity.png"
    figs.capacity(hidden, model, pca, mean, path)
    rows = [[h, m, p, mean, ratio(m, p), ratio(m, mean)] for h, m, p in zip(hidden, model, pca)]
    header = ["hidden", "test MSE", "PCA-k MSE", "mean item MSE", "÷ PCA-k", "÷ mean item"]
    cblock, _ = confirmed_block(run, swept)
    blocks = [
        figures(
            figure(path, "Test MSE against the context size, PCA of as many components, the mean item"),
            table("Test reconstruction MSE per context size (PCA-k: k = hidden)", header, rows),
        ),
        cblock,
    ]
    below = [h for h, m, p in zip(hidden, model, pca) if p == p and m <= p]
    first, last = rows[0], rows[-1]
    reading = [
        f"The test MSE goes from {fmt(first[1])} at hidden {first[0]} to {fmt(last[1])} at {last[0]} "
        f"({ratio(last[1], first[1]):.2f}×), PCA-k's from {fmt(first[2])} to {fmt(last[2])}; the model is below PCA "
        + (f"at hidden {', '.join(map(str, below))}." if below else "at no size.")
        + (f" The mean item scores {fmt(mean)}." if mean is not None else ""),
        _spread_sentence(run, swept, None, ctx),
    ]
    glance = Glance(
        f"test MSE {fmt(first[1])} (hidden {first[0]}) … {fmt(last[1])} (hidden {last[0]})",
        f"PCA-k {fmt(first[2])} … {fmt(last[2])}; mean item {fmt(mean)}",
        f"below PCA at {len(below)} of {len(rows)} sizes",
    )
    return Content(
        architecture(_config(Path(str(ok.iloc[0]["folder"]))), "T = 50 steps of F = 1 value"), blocks, reading, glance
    )


def mnist_reconstruct(run: Path, ctx: Ctx) -> Content:
    result = read_result(run)
    r = Recon.of(result)
    blocks = [
        run_facts(result),
        figures(
            loss_curve(run, ctx, "mnist_loss.png", "MNIST reconstruction: loss vs epoch"),
            recon_table([r.row("LSTM autoencoder (row by row)")], r.k),
        ),
        figures(figure(run / "reconstructions.png", "Test images (top), reconstructions, PCA's")),
    ]
    return Content(
        architecture(_config(run), "T = 28 rows of F = 28 pixels"),
        blocks,
        [r.sentence(), seeds_sentence(ctx)],
        Glance(f"test MSE {fmt(r.model)}", r.references(), r.judgement()),
    )


def _acc_row(name: str, result: dict) -> list:
    test = result.get("test") or {}
    acc = test.get("acc")
    return [name, pct(acc), pct(CHANCE), None if acc is None else f"{100 * (acc - CHANCE):+.1f} points",
            test.get("recon"), test.get("mean_recon"), _epochs(result), result.get("wall_time_s")]  # fmt: skip


ACC_HEADER = ["input", "test accuracy", "chance", "above chance", "test recon MSE", "mean item MSE", "best / epochs",
              "wall time (s)"]  # fmt: skip


def _acc_glance(result: dict) -> Glance:
    acc = (result.get("test") or {}).get("acc")
    verdict = "" if acc is None else ("above chance" if acc > CHANCE + 0.02 else "at chance: not learned")
    return Glance(f"test accuracy {pct(acc)}", f"chance {pct(CHANCE)}", verdict)


def row_vs_pixel_figures(row: Path, pixel: Path, ctx: Ctx) -> str:
    """One loss-vs-epoch and one accuracy-vs-epoch graph, each with the row and the pixel run."""
    runs = [(name, _csv(folder / METRICS)) for name, folder in (("row", row), ("pixel", pixel))]
    runs = [(n, df) for n, df in runs if df is not None and not df.empty]
    if not runs:
        return ""
    out = []
    for metric, ylabel, logy in (("loss", "loss (MSE + cross-entropy)", True), ("acc", "accuracy", False)):
        lines = []
        for i, (name, df) in enumerate(runs):
            for split, ls in (("train", "-"), ("val", "--")):
                if f"{split}_{metric}" in df:
                    label = f"{name}, {'validation' if split == 'val' else 'train'}"
                    lines.append(figs.Line(label, df["epoch"], df[f"{split}_{metric}"], {"color": f"C{i}", "ls": ls}))
        if metric == "acc":
            epochs = sorted({int(e) for _, df in runs for e in df["epoch"]})
            lines.append(
                figs.Line("chance (10 %)", epochs, [CHANCE] * len(epochs), {"color": "0.4", "ls": ":", "marker": ""})
            )
        path = ctx.fig_dir / f"row_vs_pixel_{metric}.png"
        figs.curves(lines, ylabel, path, f"MNIST row vs pixel: {ylabel.split(' (')[0]} vs epoch", logy=logy)
        out.append(
            figure(path, f"{ylabel.split(' (')[0].capitalize()} per epoch, row by row and pixel by pixel (metrics.csv)")
        )
    return figures(*out)


def mnist_classify(run: Path, ctx: Ctx) -> Content:
    result = read_result(run)
    blocks = [run_facts(result), table("Classification beside chance, reconstruction beside the mean item", ACC_HEADER,
                                       [_acc_row("row by row (28 × 28)", result)])]  # fmt: skip
    pixel = ctx.study / "mnist_pixel"
    if not (pixel / METRICS).is_file():  # otherwise the next section shows both runs' curves together
        blocks.append(row_vs_pixel_figures(run, pixel, ctx))
    else:
        blocks.append(
            "<p class=facts>Loss and accuracy per epoch: in the next section, beside the pixel-by-pixel run.</p>"
        )
    test = result.get("test") or {}
    acc = test.get("acc")
    reading = [
        f"Test accuracy {pct(acc)} against chance {pct(CHANCE)} ({100 * ((acc or 0) - CHANCE):+.1f} points); the "
        f"reconstruction MSE {fmt(test.get('recon'))} is {fmt(ratio(test.get('recon'), test.get('mean_recon')), 3)}× "
        f"the mean item's {fmt(test.get('mean_recon'))} and {fmt(ratio(test.get('recon'), test.get('pca_recon')), 3)}× "
        f"PCA-{(result.get('reference') or {}).get('k')}'s.",
        seeds_sentence(ctx),
    ]
    return Content(architecture(_config(run), "T = 28 rows of F = 28 pixels"), blocks, reading, _acc_glance(result))


def mnist_pixel(run: Path, ctx: Ctx) -> Content:
    result = read_result(run)
    row_dir = ctx.study / "mnist_classify"
    row = read_result(row_dir)
    rows = [
        r
        for r in ([_acc_row("row by row (28 × 28)", row)] if row else [])
        + [_acc_row("pixel by pixel (784 × 1)", result)]
    ]
    blocks = [
        table("Row by row against pixel by pixel: accuracy beside chance", ACC_HEADER, rows),
        row_vs_pixel_figures(row_dir, run, ctx),
    ]
    acc_p = (result.get("test") or {}).get("acc")
    acc_r = (row.get("test") or {}).get("acc") if row else None
    reading = []
    if acc_p is not None and acc_r is not None:
        per_epoch = ratio(_per_epoch(result), _per_epoch(row))
        reading.append(
            f"Row by row reaches {pct(acc_r)} and pixel by pixel {pct(acc_p)} ({100 * (acc_r - acc_p):+.1f} points for "
            f"rows; chance is {pct(CHANCE)}), pixel by pixel taking {fmt(per_epoch, 3)}× the time per epoch: 784 steps "
            "of one value must be carried through the same context size."
        )
    reading.append(seeds_sentence(ctx))
    return Content(architecture(_config(run), "T = 784 steps of F = 1 pixel"), blocks, reading, _acc_glance(result))


def _per_epoch(result: dict) -> float | None:
    epochs = result.get("epochs_run")
    return ratio(result.get("wall_time_s"), epochs) if epochs else None


def snp500_reconstruct(run: Path, ctx: Ctx) -> Content:
    result = read_result(run)
    r = Recon.of(result)
    cv = result.get("cv") or {}
    test = result.get("test") or {}
    folds = [[f["fold"], f["status"], f["best_val_loss"], f["best_epoch"], f["epochs_run"], f["train_size"],
              f["val_size"]] for f in cv.get("folds", [])]  # fmt: skip
    caption = (
        f"Cross-validation, {cv.get('k', '?')} folds over the training stocks: validation MSE "
        f"{fmt(cv.get('val_loss_mean'))} ± {fmt(cv.get('val_loss_std'))} (fold-to-fold sd); fold {cv.get('kept_fold', '-')} "
        "kept and evaluated once on the test stocks"
    )
    fold_lines = []
    for k in range(1, (cv.get("k") or 0) + 1):
        df = _csv(run / "cv" / f"fold_{k}" / METRICS)
        if df is not None and "val_loss" in df:
            kept = k == cv.get("kept_fold")
            fold_lines.append(figs.Line(f"fold {k}{' (kept)' if kept else ''}", df["epoch"], df["val_loss"],
                                        {"lw": 2.2 if kept else 1.2}))  # fmt: skip
    path = ctx.fig_dir / "cv_folds.png"
    if fold_lines:
        figs.curves(fold_lines, "validation MSE", path, "S&P 500: validation loss per fold", logy=True)
    units = test.get("units", "$")
    rmse = test.get("recon_rmse_dollars")
    blocks = [
        run_facts(result),
        table(
            caption,
            ["fold", "status", "best val MSE", "best epoch", "epochs run", "train windows", "val windows"],
            folds,
        ),
        figures(
            figure(path, "Validation loss per epoch, every fold") if fold_lines else "",
            recon_table([r.row("LSTM autoencoder (kept fold)")], r.k),
        ),
        figures(figure(run / "snp500_stocks.png", "The stocks the assignment names, whole period")),
        figures(figure(run / "reconstructions.png", "Test windows and their reconstructions")),
    ]
    reading = [
        f"Cross-validation gives {fmt(cv.get('val_loss_mean'))} ± {fmt(cv.get('val_loss_std'))} over {cv.get('k')} folds; "
        f"on the test stocks {r.sentence()[0].lower()}{r.sentence()[1:]}",
        (f"In dollars the test RMSE is {units}{fmt(rmse, 3)}. " if rmse is not None else "") + seeds_sentence(ctx),
    ]
    glance = Glance(f"test MSE {fmt(r.model)} (CV {fmt(cv.get('val_loss_mean'))} ± {fmt(cv.get('val_loss_std'))})",
                    r.references(), r.judgement())  # fmt: skip
    return Content(architecture(_config(run), "windows of T = 50 trading days of F = 1 daily high (scaled per window)"),
                   blocks, reading, glance)  # fmt: skip


def _ci(v: dict | None) -> str:
    if not v:
        return ""
    text = f"{v['ratio']:.4f}"
    if "ci_low" in v:
        text += f" [{v['ci_low']:.4f}, {v['ci_high']:.4f}]"
    return text


def _verdict(v: dict | None) -> str:
    if not v or "ci_low" not in v:
        return ""
    if v["ci_high"] < 1:
        return "beats it"
    if v["ci_low"] > 1:
        return "worse"
    return "not distinguishable (interval holds 1)"


def forecast_rows(test: dict) -> tuple[list[list], str]:
    one, multi = test.get("one_step") or {}, test.get("multi_step") or {}
    every = one.get("every")
    label = "one-step, every test day" if every in (None, 1) else f"one-step, every {every}th test day"
    rows = []
    for name, m in ((label, one), ("multi-step (whole horizon)", multi),
                    ("one-step, same windows as multi-step", multi.get("one_step_same_days"))):  # fmt: skip
        if not m:
            continue
        vs = m.get("model_vs") or {}
        pers = vs.get("persistence") or {"ratio": m.get("ratio")} if m.get("ratio") is not None else None
        ar = vs.get("ar1_diff") or ({"ratio": m["ratio_ar"]} if "ratio_ar" in m else None)
        if ar and "ratio_ar_ci" in m and "ci_low" not in ar:
            ar = {**ar, "ci_low": m["ratio_ar_ci"][0], "ci_high": m["ratio_ar_ci"][1]}
        rows.append([name, m.get("n"), m.get("model_mse"), m.get("persistence_mse"), _ci(pers) if pers else "",
                     _verdict(pers), _ci(ar) if ar else "", _verdict(ar)])  # fmt: skip
    boot = one.get("bootstrap") or multi.get("bootstrap") or {}
    how = ""
    if boot:
        how = (f"95 % intervals from {boot.get('n_resamples')} resamples of {boot.get('resampled', 'the test series')}"
               f" ({boot.get('n_groups', '?')} series" + (f" × {boot['n_blocks']} blocks" if boot.get("n_blocks") else "")
               + ").")  # fmt: skip
    return rows, how


FORECAST_HEADER = ["forecast", "n", "model MSE", "persistence MSE", "÷ persistence [95 %]", "vs persistence",
                   "÷ AR(1) on differences [95 %]", "vs AR(1)"]  # fmt: skip


def snp500_predict(run: Path, ctx: Ctx) -> Content:
    result = read_result(run)
    test = result.get("test") or {}
    rows, how = forecast_rows(test)
    refs = (test.get("one_step") or {}).get("references") or {}
    fit = (test.get("one_step") or {}).get("references_fit") or {}
    note = how + (f" References fitted on {fit['fit_on']}." if fit.get("fit_on") else "")
    caption = "Forecasts beside persistence (tomorrow = today) and AR(1) on differences; MSE normalized per window"
    blocks = [run_facts(result), table(caption, FORECAST_HEADER, rows, note)]
    train = loss_curve(run, ctx, "snp_loss.png", "S&P 500 predict: training loss vs epoch",
                       (("train_loss", "train, total"), ("val_loss", "val, total"),
                        ("train_recon", "train, recon.")))  # fmt: skip
    cfg = _config(run)
    share = honest_share_text((cfg.get("task") or {}).get("last_weight", 1.0),
                              (cfg.get("dataset") or {}).get("seq_len", 50) - 1)  # fmt: skip
    pred = loss_curve(run, ctx, "snp_prediction_loss.png", "S&P 500: prediction loss vs epoch",
                      (("train_pred", "train"), ("val_pred", "val"), ("val_next", "val, next day only")),
                      share)  # fmt: skip
    hdf = _csv(run / "error_vs_horizon.csv")
    horizon = ""
    if hdf is not None and "horizon" in hdf:
        path = ctx.fig_dir / "error_vs_horizon.png"
        figs.horizon(hdf, {k: v["name"] for k, v in refs.items()}, path)
        horizon = figure(path, "Error against the horizon step, test windows (error_vs_horizon.csv)")
    blocks += [
        figures(train, pred),
        figures(horizon),
        figures(
            figure(run / "forecast_one_step.png", "Honest one-step forecasts of whole test series"),
            figure(run / "forecast_multi_step.png", "Multi-step forecasts, the model's own forecasts fed back"),
        ),
    ]
    one, multi = test.get("one_step") or {}, test.get("multi_step") or {}
    reading = []
    if one:
        ar = (one.get("model_vs") or {}).get("ar1_diff")
        reading.append(
            f"One step ahead the model's MSE is {_ci((one.get('model_vs') or {}).get('persistence')) or fmt(one.get('ratio'))}"
            f"× persistence's ({_verdict((one.get('model_vs') or {}).get('persistence')) or 'no interval'})"
            + (f" and {_ci(ar)}× AR(1)'s ({_verdict(ar)})" if ar else "")
            + "."
        )
    if multi:
        reading.append(
            f"Over the whole horizon (own forecasts fed back) it is {fmt(multi.get('ratio'), 3)}× persistence's MSE"
            + (f" and {fmt(multi.get('ratio_ar'), 3)}× the iterated AR(1)'s" if "ratio_ar" in multi else "")
            + ". "
            + seeds_sentence(ctx)
        )
    glance = Glance(
        f"one-step {fmt(one.get('ratio'), 4)}× persistence; multi-step {fmt(multi.get('ratio'), 3)}×",
        "persistence; AR(1) on differences " + (_ci((one.get("model_vs") or {}).get("ar1_diff")) + "× (one-step)"),
        _verdict((one.get("model_vs") or {}).get("persistence")) + " (one-step vs persistence)",
    )
    return Content(architecture(_config(run), "windows of T = 50 trading days of F = 1 daily high (scaled per window)"),
                   blocks, reading, glance)  # fmt: skip


SECTIONS: dict[str, Callable[[Path, Ctx], Content]] = {
    "toy_examples": toy_examples,
    "toy_grid": toy_grid,
    "toy_capacity": toy_capacity,
    "mnist_reconstruct": mnist_reconstruct,
    "mnist_classify": mnist_classify,
    "mnist_pixel": mnist_pixel,
    "snp500_reconstruct": snp500_reconstruct,
    "snp500_predict": snp500_predict,
}
