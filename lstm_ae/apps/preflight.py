"""Command-line checks done before Hydra composes anything, so a mistyped group option
(e.g. optimizer=adamm) gets one line naming the key and the allowed values."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lstm_ae.config import CONF_DIR, HYDRA_BASE, group_options
from lstm_ae.errors import first_line

GROUPS = ("model", "dataset", "optimizer", "scheduler", "task", "trainer", "process", "experiment")
_PLAIN = re.compile(r"^[A-Za-z0-9_\-]+(,[A-Za-z0-9_\-]+)*$")


def normalize_overrides(argv: list[str]) -> list[str]:
    """`+experiment=x` as `experiment=x`: the defaults list has an `experiment: null` slot, and both
    spellings (Hydra's for an empty slot, and the one hydra-optuna-sweeper configs use) select a preset."""
    return [arg[1:] if arg.startswith("+experiment=") else arg for arg in argv]


def _extra_conf_dirs(argv: list[str]) -> list[Path]:
    """Config folders a user adds: hydra.searchpath=[file://...] and --config-dir/-cd."""
    dirs = []
    for i, arg in enumerate(argv):
        if arg.startswith("hydra.searchpath="):
            dirs += [Path(p) for p in re.findall(r"file://([^,\]'\"]+)", arg)]
        elif arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
    return dirs


MAX_PREFLIGHT_POINTS = 500


def preflight_sweep(argv: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Before a multirun starts: compose and validate every point of its comma-list grid (or, for a
    sampled space, the config of its fixed settings), data files and what each point asks of this
    machine included (not when the trials run elsewhere, on SLURM), so a bad value (model.hidden=16,abc,
    a missing dataset.path) is one line and exit 2 before the first trial trains, not a failed trial
    later. Sampled values (interval, range) are checked by each run."""
    import itertools

    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from lstm_ae.config import typed_process, validate
    from lstm_ae.errors import ConfigError, DataError
    from lstm_ae.run.runtime import check_machine

    args = [a for a in argv if not a.startswith("-") and "=" in a and not a.lstrip("+~").startswith("hydra")]
    here = not any(a.startswith("hydra/launcher=submitit_slurm") for a in argv)
    try:
        parsed = OverridesParser.create().parse_overrides(args)
    except HydraException:
        return  # Hydra reports override syntax itself
    fixed, axes = [], []
    for text, o in zip(args, parsed):
        if not o.is_sweep_override():
            fixed.append(text)
        elif o.is_choice_sweep() and not o.is_hydra_override():
            values = list(o.sweep_string_iterator())
            axes.append([f"{text.split('=', 1)[0]}={v}" for v in values])
    points = list(itertools.islice(itertools.product(*axes), MAX_PREFLIGHT_POINTS))
    with initialize_config_dir(config_dir=str(conf_dir), **HYDRA_BASE):
        for point in points:
            try:
                cfg = compose("config", overrides=[*fixed, *point])
                model_cfg, _ = validate(cfg)
                if here:
                    check_machine(model_cfg, typed_process(cfg.process))
            except (ConfigError, DataError, HydraException, OmegaConfBaseException) as exc:
                where = f"grid point {' '.join(point)}" if point else "the sweep's fixed settings"
                print(f"error: {first_line(exc)} ({where}); nothing was run", file=sys.stderr)
                raise SystemExit(2) from None


HYDRA_FLAGS_OWN_RUN = ("-h", "--help", "--hydra-help", "-c", "--cfg", "--info", "-i", "--shell-completion", "-sc")
SKIP_PREFLIGHT = ("--config-dir", "-cd", "--config-name", "-cn", "--config-path", "-cp", "hydra.searchpath")


def preflight_run(argv: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Before a single run starts, with no torch loaded: compose the config as Hydra will, check it
    (config.validate, run.runtime.check_machine) and the run folder (run.rerun.open_run_folder: refused
    when it holds a run trained with other settings; set aside with trainer.resume=false; created).
    A bad value is one line and exit 2, and nothing was written. Runs that change Hydra's config
    search (config dir, name, search path) and Hydra's own commands (--help, --cfg) are left to Hydra;
    the run checks the same things again when it starts."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from lstm_ae.config import typed_process, validate
    from lstm_ae.errors import ConfigError, DataError
    from lstm_ae.run.rerun import open_run_folder
    from lstm_ae.run.runtime import check_machine

    if any(a.split("=", 1)[0] in (*HYDRA_FLAGS_OWN_RUN, *SKIP_PREFLIGHT) for a in argv):
        return
    args = [a for a in argv if not a.startswith("-")]
    try:
        with initialize_config_dir(config_dir=str(conf_dir), **HYDRA_BASE):
            cfg = compose("config", overrides=args, return_hydra_config=True)
        run_dir = Path(str(cfg.hydra.run.dir))
    except (HydraException, OmegaConfBaseException):
        return  # Hydra reports its own errors, in its words
    try:
        model_cfg, _ = validate(cfg)
        check_machine(model_cfg, typed_process(cfg.process))
        note = open_run_folder(cfg, run_dir)
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if note:
        print(note, file=sys.stderr)


def check_sweeper_syntax(argv: list[str]) -> None:
    """hydra.sweeper.sampler=grid sets a value where a config group is meant: say how to choose one."""
    for arg in argv:
        for group in ("sampler", "pruner"):
            prefix = f"hydra.sweeper.{group}="
            if arg.startswith(prefix):
                value = arg[len(prefix) :]
                print(
                    f"error: {arg} sets a value; choose a {group} with the group override "
                    f"hydra/sweeper/{group}={value}",
                    file=sys.stderr,
                )
                raise SystemExit(2)


def check_group_choices(argv: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Exit with a one-line error for an unknown option of a config group."""
    extra = _extra_conf_dirs(argv)
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        group = key.lstrip("+~")
        if group not in GROUPS or not _PLAIN.match(value):
            continue  # sweeps like choice(...) and other syntax are left to Hydra
        allowed = sorted({o for d in (conf_dir, *extra) for o in group_options(group, d)})
        for option in value.split(","):
            if option not in allowed:
                print(f"error: unknown {group} {option!r}; allowed: {', '.join(allowed)}", file=sys.stderr)
                raise SystemExit(2)
