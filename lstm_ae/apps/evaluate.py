"""Evaluate a trained run on other data (another period, another market) of the same schema.

    python -m lstm_ae.apps.evaluate <run folder> dataset.path=<csv> [more overrides] [--out DIR] [--all-items]
                                    [--refit-references]

(flags and overrides in any order).

Re-composes the run's saved .hydra/config.yaml with the overrides (Hydra override syntax),
loads <run>/best.pt, and writes eval.json (the same test metrics as result.json: mean losses,
errors in real units, one-step and multi-step forecasts vs persistence and the linear references,
with 95 % intervals), config.yaml and the same figures into a new folder (default
<run>/eval/<timestamp>). A file holding periods far apart (e.g. 2013 and 2018) is split at the
gap: no window and no forecast spans it (the S&P loader's dataset.max_gap_days). Series too short
for a multi-step sequence get a one-line note in eval.json (test.multi_step.skipped); everything
else is still scored.

Which items are evaluated: the data's test split, minus any series the run trained or validated
on (the run's splits.json), plus — unless the data do not name their items' series (Split.names)
— every other series that is new to the run. So on the run's own data it re-evaluates exactly the
run's test series; on another file it evaluates every series the model has never seen.
--all-items evaluates every item of the new data, including series the model trained on (useful
for another period of the same series).

Forecast references (task=predict): the run's own, as fitted at training time on its training series
(<run>/references.json), so no reference sees the evaluated period. --refit-references fits them
again on the new data's training split instead (labelled so in eval.json: such a reference has seen
the evaluated period, days after each forecast included). The eval folder's splits.json names the
evaluated series and what the references were fitted on; a part of the file too short for one
window is named in eval.json (data.unscored) and in the log.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lstm_ae.artifacts import write_json, write_text
from lstm_ae.config import HYDRA_BASE, validate
from lstm_ae.data.base import concat, groups_of, names_of, stat_items, take, with_splits
from lstm_ae.errors import ConfigError, DataError, first_line
from lstm_ae.files import BEST_CKPT, REFERENCES, SPLITS
from lstm_ae.run import prepare as pipeline
from lstm_ae.run.outputs import fmt_metrics, test_best
from lstm_ae.run.prepare import count_parameters
from lstm_ae.train.trainer import resolve_device

log = logging.getLogger("lstm_ae")


def compose_run_config(run: Path, overrides: list[str]):
    """The run's saved config with overrides applied, as Hydra would compose it."""
    saved = run / ".hydra" / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"{run}: not a run folder (no .hydra/config.yaml)")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(saved.parent.absolute()), **HYDRA_BASE):
            return compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        first = first_line(exc)
        saved_cfg = OmegaConf.load(saved)
        for o in overrides:  # a key the run's dataset does not have: say what the run read instead
            key = o.split("=", 1)[0].lstrip("+~")
            if key.startswith("dataset.") and OmegaConf.select(saved_cfg, key, default=None) is None:
                name = saved_cfg.dataset.get("name", "?")
                raise ConfigError(
                    f"{key}: the run's dataset ({name}) has no such key, so there is nothing to replace; "
                    f"its dataset keys: {', '.join(k for k in saved_cfg.dataset if k != '_target_')}"
                ) from None
        raise ConfigError(f"overrides {' '.join(overrides)}: {first}") from None
    finally:
        GlobalHydra.instance().clear()


@dataclass(frozen=True)
class Selection:
    """The data to evaluate (its test split), how it was chosen and the series left out."""

    data: object
    scope: str
    excluded: list[str]


def select_items(data, run: Path, all_items: bool) -> Selection:
    """The evaluation split: see the module docstring."""
    if all_items:
        pool = concat([data.train, data.val, data.test])
        return Selection(with_splits(data, test=pool), "all items", [])
    splits_file = run / SPLITS
    if data.test.names is None or not splits_file.exists():
        return Selection(data, "the test split", [])
    seen = set()
    for key in ("train", "val"):
        seen.update(json.loads(splits_file.read_text()).get(key, []))
    pool = concat([data.train, data.val, data.test])
    groups = groups_of(pool)
    keep = ~np.isin(groups, list(seen))
    if not keep.any():
        where = data.stats.get("path", data.name)
        raise DataError(f"{where}: every series was among the run's training/validation series (splits.json)")
    excluded = sorted(set(groups[~keep].tolist()))
    scope = f"series unseen by the run ({len(excluded)} of its {len(seen)} training/validation series excluded)"
    return Selection(with_splits(data, test=take(pool, np.flatnonzero(keep))), scope, excluded)


def references_override(run: Path, cfg, refit: bool) -> tuple[list[str], str | None]:
    """The override that scores a predict run against its own references, and how they are labelled."""
    if cfg.task.get("name") != "predict":
        return [], None
    saved = (run / REFERENCES).absolute()
    if refit or not saved.is_file():
        why = "--refit-references" if refit else f"the run saved no {REFERENCES}"
        log.warning("references refit on the evaluated data's training split (%s): they have seen its period", why)
        return [], f"refit on the evaluated data ({why})"
    return [f"++task.references={saved}"], f"the run's own, fitted at training time ({saved})"


def _write_splits(out: Path, data, test: dict, excluded: list[str]) -> None:
    """The eval folder's splits.json: what was evaluated, what was left out, what the references saw."""
    if data.test.names is None:
        return
    fit = (test.get("one_step") or {}).get("references_fit") or {}
    write_json(out / SPLITS, {"evaluated": names_of(data.test), "excluded_seen_by_the_run": excluded,
                              **({"references_fitted_on": fit["fit_on"]} if fit else {})})  # fmt: skip


def run(run_dir: Path, overrides: list[str], out: Path | None, all_items: bool, refit: bool = False) -> dict:
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    ckpt = run_dir / BEST_CKPT
    if not ckpt.is_file():
        raise ConfigError(f"{run_dir}: no {BEST_CKPT} (was the run trained to at least one epoch?)")
    cfg = compose_run_config(run_dir, overrides)
    extra, references = references_override(run_dir, cfg, refit)
    if extra:
        cfg = compose_run_config(run_dir, [*overrides, *extra])
    model_cfg, trainer_cfg = validate(cfg)
    inst = pipeline.instantiate_node
    task = inst(cfg.task)
    data = inst(cfg.dataset)
    task.check_data(data)
    chosen = select_items(data, run_dir, all_items)
    data, scope = chosen.data, chosen.scope
    out = Path(out) if out else run_dir / "eval" / time.strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(trainer_cfg.device)
    model = pipeline.build_model(model_cfg, data, task).to(device)
    prep = pipeline.Prepared(model_cfg, trainer_cfg, task, data, model, device, None, None, count_parameters(model))
    log.info(
        "evaluating %s on %s: %d items (%s)", ckpt, cfg.dataset.get("path", cfg.dataset.name), len(data.test), scope
    )
    tested = test_best(prep, out, [], ckpt)
    test, figures = tested.test, tested.figures
    _write_splits(out, data, test, chosen.excluded)
    unscored = data.stats.get("unscored", "none")
    if unscored != "none":
        log.warning("not scored (shorter than one window): %s", unscored)
    result = {
        "run": str(run_dir),
        "checkpoint": str(ckpt),
        "overrides": overrides,
        "evaluated": scope,
        **({"references": references} if references else {}),
        "test_size": len(data.test),
        "data": {**stat_items(data), **({"units": data.units.symbol} if data.units else {})},
        "test": test,
        "reference": tested.reference.as_dict(),
        "figures": figures + test.get("figures", []),
        "wall_time_s": time.perf_counter() - t0,
    }
    write_text(out / "config.yaml", OmegaConf.to_yaml(cfg))
    write_json(out / "eval.json", result)
    log.info("test: %s -> %s", fmt_metrics(test), out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder (has .hydra/config.yaml and best.pt)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. dataset.path=other.csv")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default <run>/eval/<timestamp>)")
    parser.add_argument("--all-items", action="store_true", help="also evaluate series the run trained on")
    parser.add_argument(
        "--refit-references",
        action="store_true",
        help="fit the forecast references on the new data instead of using the run's (they see its period)",
    )
    args = parser.parse_intermixed_args(argv)  # flags and overrides in any order
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    try:
        run(args.run, args.overrides, args.out, args.all_items, args.refit_references)
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
