"""python -m lstm_ae.apps.report for real on a small subset of the study: the runs, the self-contained HTML report
(every section, figures inline as PNG, numbers equal to the runs' result.json), reuse of finished tasks,
missing data, and the report rendered by a real browser (headless Chromium) into a non-blank screenshot."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from lstm_ae.apps import report as study

pytestmark = pytest.mark.slow  # real trainings and sweeps: -m 'not slow' skips them

# A tiny subset: one toy run and the toy capacity sweep, both --quick and shortened further.
TINY = ["--quick", "--only", "toy_examples,toy_capacity,snp500_predict", "--override", "trainer.epochs=2",
        "--override", "dataset.size=1000"]  # fmt: skip


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
def tiny_study(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("study")
    missing_csv = folder / "no_such_sp500.csv.gz"
    proc = run_study(str(folder), *TINY, "--snp500-csv", str(missing_csv), "--no-pdf")
    return folder, proc


def sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="(\w+)">(.*?)</section>', page, flags=re.S))


def test_report_has_every_section_figures_and_the_runs_numbers(tiny_study):
    folder, proc = tiny_study
    assert proc.returncode == 1, proc.stdout + proc.stderr  # 1: a section (S&P 500, no CSV) was not run
    page = (folder / "report.html").read_text()
    found = sections(page)
    assert list(found) == study.KEYS  # every task has its section, in the study's order

    for key in ("toy_examples", "toy_capacity"):
        assert "Status: ran now" in found[key], found[key][:2000]
        pre = re.search(r"<pre>(.*?)</pre>", found[key], flags=re.S).group(1)
        assert pre.startswith("python run.py ") and f"={folder / key}" in pre  # the exact command, its folder
    # the run's own numbers, as result.json has them
    result = json.loads((folder / "toy_examples" / "result.json").read_text())
    assert result["status"] == "completed" and result["epochs_run"] == 2
    assert f"<td class=num>{study._fmt(result['test']['loss'])}</td>" in found["toy_examples"]
    # the sweep's table: one row per hidden size of the quick grid, each trial's objective from its result.json
    for trial in (folder / "toy_capacity").glob("[0-9]*"):
        objective = json.loads((trial / "result.json").read_text())["objective"]
        assert f"<td class=num>{study._fmt(objective)}</td>" in found["toy_capacity"]
    assert len(list((folder / "toy_capacity").glob("[0-9]*"))) == 3

    # missing data: the section says what to do, the rest of the report is there
    assert "no data" in found["snp500_predict"] and "--snp500-csv" in found["snp500_predict"]
    assert "not found" in found["snp500_predict"]
    assert "Not selected" in found["mnist_classify"]

    # figures: inline PNGs only (the report is self-contained), each decoding to a PNG
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 5  # examples, reconstructions, loss + the sweep's figures
    assert {"examples.png", "reconstructions.png", "loss.png", "test_vs_hidden.png"} <= {n for n, _ in images}
    for _, data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'<img[^>]+src="(?!data:)', page)


def test_second_run_reuses_finished_tasks(tiny_study):
    folder, _ = tiny_study
    result = folder / "toy_examples" / "result.json"
    before = result.stat().st_mtime_ns, (folder / "toy_capacity" / "optuna.db").stat().st_mtime_ns
    proc = run_study(str(folder), *TINY, "--snp500-csv", str(folder / "no_such_sp500.csv.gz"), "--no-pdf")
    assert proc.returncode == 1, proc.stdout + proc.stderr
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


@pytest.mark.skipif(study.find_browser() is None, reason="no chromium on this machine (apt-get install chromium)")
def test_browser_renders_the_report(tiny_study):
    """Headless Chromium loads the report: the screenshot has the window's size and is not blank; the PDF prints."""
    from PIL import Image, ImageStat

    folder, _ = tiny_study
    shot = folder / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        cmd = [*study.browser_args(study.find_browser(), profile), f"--screenshot={shot}", "--window-size=1200,2400",
               (folder / "report.html").as_uri()]  # fmt: skip
        subprocess.run(cmd, capture_output=True, timeout=300, check=True)
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 2400)
    stat = ImageStat.Stat(image)
    assert stat.stddev[0] > 20  # text, tables and figures, not a blank page
    dark = sum(image.histogram()[:128]) / (1200 * 2400)
    assert 0.005 < dark < 0.5  # some dark ink (text, lines), mostly background
    pdf = study.print_pdf(folder / "report.html")
    assert pdf is not None and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 50_000
