"""python -m lstm_ae.apps.report for real on a small subset of the study: the runs, the self-contained HTML report
(every section, figures inline as PNG, numbers equal to the runs' result.json and beside their references),
reuse of finished tasks, missing data, and the report rendered by a real browser (headless Chromium): a
non-blank screenshot, nothing wider than the page, every figure's smallest font at least 8 pt as printed, the PDF's
pages."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from lstm_ae.apps import report as study
from lstm_ae.apps import report_content as content
from lstm_ae.figures.style import png_info
from lstm_ae.sweep import confirm

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them

# A tiny subset: one toy run and the toy capacity sweep (its best two sizes confirmed over seeds), both --quick and
# shortened further; then the S&P 500 prediction task on the real CSV, shortened too.
TINY = ["--quick", "--only", "toy_examples,toy_capacity", "--override", "trainer.epochs=2",
        "--override", "dataset.size=1000"]  # fmt: skip
SNP_TINY = ["--quick", "--only", "snp500_predict", "--override", "trainer.epochs=1", "--override", "model.hidden=8",
            "--override", "dataset.stride=50", "--override", "process.threads=1"]  # fmt: skip


def run_study(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lstm_ae.apps.report", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,  # a hang guard only
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory, sp500_csv) -> tuple[Path, subprocess.CompletedProcess]:
    """The toy tasks, then the S&P 500 prediction task into the same folder, then the report rebuilt from the
    folder (--report-only, HTML and PDF)."""
    folder = tmp_path_factory.mktemp("study")
    proc = run_study(str(folder), *TINY, "--no-pdf")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_study(str(folder), *SNP_TINY, "--snp500-csv", str(sp500_csv), "--no-pdf")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder, run_study(str(folder), "--report-only")


def sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="(\w+)">(.*?)</section>', page, flags=re.S))


def test_report_has_every_section_figures_and_the_runs_numbers(tiny_study):
    folder, proc = tiny_study
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (folder / "report.html").read_text()
    found = sections(page)
    assert list(found) == study.KEYS  # every task has its section, in the assignment's order
    # --quick: said up front and in every page's top margin
    assert (
        f"<p class=banner>{study.QUICK_BANNER}</p>" in page
        and f'@top-center {{ content: "{study.QUICK_BANNER}"' in page
    )

    for key in ("toy_examples", "toy_capacity", "snp500_predict"):
        assert "Status: reused" in found[key], found[key][:2000]
        command = re.search(r"<code>(python run.py .*?)</code>", found[key], flags=re.S).group(1)
        assert f"={folder / key}" in command  # the exact command, its folder
        assert "<b>decoder</b> LSTM fed z at every one of the T steps" in found[key]  # the architecture of the task
    assert "Prediction head" in found["snp500_predict"] and "Prediction head" not in found["toy_examples"]
    assert "Not run in this folder" in found["mnist_classify"]

    # the run's own numbers beside its references, as result.json has them
    result = json.loads((folder / "toy_examples" / "result.json").read_text())
    assert result["status"] == "completed" and result["epochs_run"] == 2
    test = result["test"]
    row = f"<td class=num>{content.fmt(test['recon'])}</td><td class=num>{content.fmt(test['pca_recon'])}</td>"
    assert row + f"<td class=num>{content.fmt(test['mean_recon'])}</td>" in found["toy_examples"]
    reading = re.search(r"<b>Reading.</b>(.*?)</p>", found["toy_examples"], flags=re.S).group(1)
    assert f"{test['recon'] / test['pca_recon']:.2f}× PCA-32" in reading and "pipeline check" in reading
    # the capacity sweep: one row per hidden size, each trial's test MSE from its result.json
    trials = sorted((folder / "toy_capacity").glob("[0-9]*"))
    assert len(trials) == 3
    for trial in trials:
        r = json.loads((trial / "result.json").read_text())
        assert f"<td class=num>{content.fmt(r['test']['recon'])}</td>" in found["toy_capacity"]
    # confirm.json: the best two sizes over three seeds, their intervals and the verdict in the section
    confirmed = confirm.load(folder / "toy_capacity")
    assert len(confirmed) == 2 and all(len(c.values) == 3 for c in confirmed)
    best = min(confirmed, key=lambda c: c.mean)
    assert f"<td class=num>{content.fmt(best.mean)}</td><td>± {best.half_width:.3g}</td>" in found["toy_capacity"]
    assert html.escape(confirm.verdict(confirmed, True).replace("**", "")) in found["toy_capacity"]
    assert "seed-to-seed spread" in found["toy_capacity"]

    # forecasts: the row says which days it covers, ratios beside persistence and AR(1)
    one = json.loads((folder / "snp500_predict" / "result.json").read_text())["test"]["one_step"]
    assert f"one-step, every {one['every']}th test day" in found["snp500_predict"]
    assert f"{one['model_vs']['persistence']['ratio']:.4f}" in found["snp500_predict"]

    # figures: inline PNGs only (the report is self-contained), each decoding to a PNG
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    names = {n for n, _ in images}
    assert {"reconstructions.png", "capacity.png", "snp_loss.png", "snp_prediction_loss.png"} <= names
    for _, data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'<img[^>]+src="(?!data:)', page)


def test_missing_snp500_csv_says_what_to_do(tmp_path):
    proc = run_study(str(tmp_path / "s"), "--only", "snp500_predict", "--snp500-csv", str(tmp_path / "no.csv"),
                     "--no-pdf")  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = sections((tmp_path / "s" / "report.html").read_text())
    assert "no data" in found["snp500_predict"] and "--snp500-csv" in found["snp500_predict"]
    assert "not found" in found["snp500_predict"] and "Not selected" in found["mnist_classify"]


def test_second_run_reuses_finished_tasks(tiny_study):
    folder, _ = tiny_study
    result = folder / "toy_examples" / "result.json"
    before = result.stat().st_mtime_ns, (folder / "toy_capacity" / "optuna.db").stat().st_mtime_ns
    proc = run_study(str(folder), *TINY, "--no-pdf")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = sections((folder / "report.html").read_text())
    assert "reused (finished earlier)" in found["toy_examples"]
    assert "reused (finished earlier)" in found["toy_capacity"]
    assert (result.stat().st_mtime_ns, (folder / "toy_capacity" / "optuna.db").stat().st_mtime_ns) == before

    # the same folder with another command: one line, nothing runs
    proc = run_study(str(folder), *TINY[:-1], "dataset.size=1200", "--no-pdf")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "was made by another command" in proc.stderr
    assert result.stat().st_mtime_ns == before[0]


def test_missing_mnist_stops_before_training_and_skips_the_other_mnist_tasks(tmp_path):
    proc = run_study(
        str(tmp_path / "s"), "--only", "mnist_reconstruct,mnist_classify", "--mnist-root", str(tmp_path / "none"),
        "--override", "dataset.download=false", "--no-pdf",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = sections((tmp_path / "s" / "report.html").read_text())
    assert "Status: failed" in found["mnist_reconstruct"] and "MNIST" in found["mnist_reconstruct"]
    assert "--mnist-root" in found["mnist_reconstruct"]
    assert (
        "no data" in found["mnist_classify"] and "mnist_reconstruct stopped before training" in found["mnist_classify"]
    )
    assert not (tmp_path / "s" / "mnist_classify").exists()  # not even started


def test_unknown_task_is_one_line():
    proc = run_study("/tmp/unused", "--only", "toy_grid,mnist_pixels")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "mnist_pixels" in proc.stderr and "mnist_pixel" in proc.stderr


LAYOUT = """<script>
const body = document.body.getBoundingClientRect(), items = [];
for (const el of document.querySelectorAll("table, figure, img, .figures, .block, p, h1, h2, h3")) {
  const r = el.getBoundingClientRect();
  items.push({tag: el.tagName, alt: el.getAttribute("alt") || "", left: r.left, right: r.right, width: r.width,
              scroll: el.scrollWidth, client: el.clientWidth, text: (el.textContent || "").slice(0, 80)});
}
const out = document.createElement("pre"); out.id = "layout";
out.textContent = JSON.stringify({left: body.left, right: body.right, items: items});
document.body.appendChild(out);
</script>"""


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [*study.browser_args(study.find_browser(), profile), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)


@pytest.mark.skipif(study.find_browser() is None, reason="no chromium on this machine (apt-get install chromium)")
def test_browser_renders_the_report(tiny_study):
    """Headless Chromium loads the report: the screenshot has the window's size and is not blank; the PDF prints;
    in the page as laid out (the column is the printed page's width), no table, figure or paragraph reaches past
    the column, and every figure's smallest font, at the width it is shown, is at least 8 pt."""
    from PIL import Image, ImageStat

    folder, _ = tiny_study
    assert run_study(str(folder), "--report-only", "--no-pdf").returncode == 0  # every task's section again
    shot = folder / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,2400", (folder / "report.html").as_uri())
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 2400)
    stat = ImageStat.Stat(image)
    assert stat.stddev[0] > 20  # text, tables and figures, not a blank page
    dark = sum(image.histogram()[:128]) / (1200 * 2400)
    assert 0.005 < dark < 0.5  # some dark ink (text, lines), mostly background

    page = (folder / "report.html").read_text()
    probe = folder / "layout.html"
    probe.write_text(page.replace("</body>", LAYOUT + "</body>"))
    dom = chromium("--dump-dom", "--window-size=1400,3000", probe.as_uri()).stdout
    layout = json.loads(html.unescape(re.search(r'<pre id="layout">(.*?)</pre>', dom, flags=re.S).group(1)))
    assert layout["right"] - layout["left"] <= 7.25 * 96  # the column fits an A4 or Letter page's text width
    over = [i for i in layout["items"] if i["right"] > layout["right"] + 0.5 or i["left"] < layout["left"] - 0.5]
    assert not over, over[:5]
    clipped = [i for i in layout["items"] if i["tag"] == "TABLE" and i["scroll"] > i["client"] + 1]
    assert not clipped, clipped[:5]

    pngs = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    shown = [i for i in layout["items"] if i["tag"] == "IMG"]
    assert len(shown) == len(pngs) >= 6 and [i["alt"] for i in shown] == [n for n, _ in pngs]  # document order
    for item, (_, data) in zip(shown, pngs):
        path = folder / "probe.png"
        path.write_bytes(base64.b64decode(data))
        width_in, _, font = png_info(path)
        assert font is not None, f"{item['alt']}: the figure does not name its smallest font"
        printed = font * (item["width"] / 96) / width_in
        assert printed >= content.MIN_FONT, f"{item['alt']}: smallest font {printed:.1f} pt as shown"

    pdf = study.print_pdf(folder / "report.html")
    assert pdf is not None and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 50_000
    raw = pdf.read_bytes()
    pages = len(re.findall(rb"/Type /Page\b", raw))
    assert pages >= 2 and set(re.findall(rb"/MediaBox \[0 0 (59[45]\.\d+) (84[12]\.\d+)\]", raw)) != set()  # A4
    if shutil.which("pdftotext"):  # poppler: every page carries the --quick banner, the text says "decoder"
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert text.count("PIPELINE CHECK") >= pages and "decoder" in text
