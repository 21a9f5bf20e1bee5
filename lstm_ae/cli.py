"""Command-line checks done before Hydra composes anything, so a mistyped group option
(e.g. optimizer=adamm) gets one line naming the key and the allowed values."""

from __future__ import annotations

import re
import sys
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("model", "dataset", "optimizer", "scheduler", "task", "trainer", "experiment")
_PLAIN = re.compile(r"^[A-Za-z0-9_\-]+(,[A-Za-z0-9_\-]+)*$")


def normalize_overrides(argv: list[str]) -> list[str]:
    """`+experiment=x` as `experiment=x`: the defaults list has an `experiment: null` slot, and both
    spellings (Hydra's for an empty slot, and the one configs of older releases used) select a preset."""
    return [a[1:] if a.startswith("+experiment=") else a for a in argv]


def group_options(group: str, conf_dir: Path = CONF_DIR) -> list[str]:
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


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
