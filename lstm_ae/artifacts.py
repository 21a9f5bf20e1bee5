"""Atomic artifact writes: write to a temp file in the same folder, then rename.

A run killed midway leaves either the previous complete file or the new complete file,
never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from lstm_ae.errors import first_line


def _file_mode() -> int:
    """The mode any new file gets under this process's umask (mkstemp would give 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    _atomic_write_bytes(path, data)


def write_text(path: Path, text: str) -> None:
    _atomic_write_bytes(path, text.encode())


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON; write them as strings so any reader can parse the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(_json_safe(obj), indent=2) + "\n")


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows may have different keys; the header is their union in first-seen order."""
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def save_torch(path: Path, obj: Any) -> None:
    import torch  # here, not at the top: the config checks that use this module answer before torch loads

    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic_write_bytes(path, buf.getvalue())


def save_figure(fig, path: Path, dpi: int = 110) -> None:
    """Save a matplotlib figure atomically as PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    _atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint safely: weights_only=True never executes code from the file."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or foreign (pickled objects) files
        why = "" if "weights_only" in str(exc) else f" ({first_line(exc, 160)})"  # not torch's unpickling advice
        raise ValueError(
            f"{path}: not a readable lstm-ae checkpoint{why}: corrupt, truncated, or not written by lstm-ae "
            "(only tensors are ever loaded from it)"
        ) from None
    if not isinstance(obj, dict) or "model" not in obj:
        raise ValueError(f"{path}: not an lstm-ae checkpoint (no 'model' state)")
    return obj
