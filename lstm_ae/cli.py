"""Command-line checks done before Hydra composes anything, so a mistyped group option
(e.g. optimizer=adamm) gets one line naming the key and the allowed values."""

from __future__ import annotations

import re
import sys
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("model", "dataset", "optimizer", "scheduler", "task", "trainer", "experiment")
_PLAIN = re.compile(r"^[A-Za-z0-9_\-]+(,[A-Za-z0-9_\-]+)*$")


def group_options(group: str, conf_dir: Path = CONF_DIR) -> list[str]:
    return sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))


def check_group_choices(argv: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Exit with a one-line error for an unknown option of a config group."""
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        group = key.lstrip("+~")
        if group not in GROUPS or not _PLAIN.match(value):
            continue  # sweeps like choice(...) and other syntax are left to Hydra
        allowed = group_options(group, conf_dir)
        for option in value.split(","):
            if option not in allowed:
                print(f"error: unknown {group} {option!r}; allowed: {', '.join(allowed)}", file=sys.stderr)
                raise SystemExit(2)
