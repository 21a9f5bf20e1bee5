"""A winner you can trust: after the sweep, its best configurations rerun with more seeds.

hydra.sweeper.confirm_seeds=N reruns the best hydra.sweeper.confirm_top trials (default 2) N more times,
with `<seed_key>` (default trainer.seed) set to the trial's seed + 1 ... + N, as jobs of the sweep's
launcher in <sweep>/confirm/<trial>_seed<s>/. The runs are not study trials (the study's best stays a
searched trial), and their objectives go to <sweep>/confirm.json, which a rerun reuses: each run happens
once. summary.md then shows each configuration's mean with a 95 % t interval over its seeds and whether
the winner is distinguishable from the runner-up: an exact paired sign-flip test over the seeds both ran
(two-sided, p < 0.05; with n paired seeds the smallest possible p is 2 / 2^n, so 6 seeds are needed)."""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lstm_ae.artifacts import write_json
from lstm_ae.files import CONFIRM_JSON, read_json

# two-sided 95 % quantiles of Student's t by degrees of freedom (1 ... 30; larger: the normal's 1.96)
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
       2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


@dataclass
class Confirmed:
    """One configuration's objective per seed (the searched trial's seed included)."""

    trial: int
    params: dict
    values: dict[int, float] = field(default_factory=dict)  # seed -> objective

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values.values())

    @property
    def half_width(self) -> float | None:
        """Half-width of the 95 % t interval of the mean (None with one seed)."""
        n = len(self.values)
        if n < 2:
            return None
        t = T95[n - 2] if n - 1 <= len(T95) else 1.96
        return t * statistics.stdev(self.values.values()) / math.sqrt(n)


def sign_flip_p(differences: list[float]) -> float:
    """Exact two-sided p-value of the paired sign-flip test of mean(differences) = 0."""
    n = len(differences)
    if n == 0:
        return 1.0
    observed = abs(sum(differences))
    hits = sum(
        abs(sum(s * d for s, d in zip(signs, differences))) >= observed - 1e-12
        for signs in itertools.product((1, -1), repeat=n)
    )
    return hits / 2**n


def load(sweep_dir: Path) -> list[Confirmed]:
    raw = read_json(Path(sweep_dir) / CONFIRM_JSON).get("configurations", [])
    return [Confirmed(c["trial"], c["params"], {int(k): float(v) for k, v in c["values"].items()}) for c in raw]


def save(sweep_dir: Path, confirmed: list[Confirmed], seed_key: str) -> None:
    write_json(Path(sweep_dir) / CONFIRM_JSON, {"seed_key": seed_key, "configurations": [asdict(c) for c in confirmed]})


def verdict(confirmed: list[Confirmed], minimize: bool) -> str:
    """One line: is the best configuration distinguishable from the runner-up over their shared seeds?"""
    if len(confirmed) < 2:
        return "Only one configuration confirmed: nothing to compare."
    ranked = sorted(confirmed, key=lambda c: c.mean if minimize else -c.mean)
    best, second = ranked[0], ranked[1]
    seeds = sorted(set(best.values) & set(second.values))
    diffs = [best.values[s] - second.values[s] for s in seeds]
    p = sign_flip_p(diffs)
    mean_diff = statistics.fmean(diffs) if diffs else float("nan")
    word = "distinguishable" if p < 0.05 else "not distinguishable"
    return (
        f"Trial {best.trial} vs trial {second.trial}: mean difference {mean_diff:+.4g} over {len(seeds)} paired "
        f"seed(s), sign-flip p = {p:.3g}: **{word}** at 5 %"
        + (
            ""
            if p < 0.05 or len(seeds) >= 6
            else f" (with {len(seeds)} seeds p cannot go below {2 / 2 ** len(seeds):.3g})"
        )
    )


def summary_lines(sweep_dir: Path, minimize: bool) -> list[str]:
    """The summary.md section, or [] when the sweep confirmed nothing."""
    confirmed = load(sweep_dir)
    if not confirmed:
        return []
    lines = ["", "## The best configurations over seeds (`hydra.sweeper.confirm_seeds`)", "",
             "| trial | parameters | seeds | mean objective | 95 % interval | per seed |", "|---|---|---|---|---|---|"]  # fmt: skip
    for c in sorted(confirmed, key=lambda c: c.mean if minimize else -c.mean):
        hw = c.half_width
        interval = f"± {hw:.4g}" if hw is not None else "–"
        per_seed = ", ".join(f"{s}: {v:.4g}" for s, v in sorted(c.values.items()))
        params = ", ".join(f"{k}={v}" for k, v in c.params.items())
        lines.append(f"| {c.trial} | {params} | {len(c.values)} | {c.mean:.5g} | {interval} | {per_seed} |")
    return [*lines, "", verdict(confirmed, minimize)]
