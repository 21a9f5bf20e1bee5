"""Run artifacts are written atomically and get the permissions the user's umask gives any new file
(so colleagues can read a results folder on a shared server when the umask allows it)."""

import os
import stat

import pytest

from lstm_ae.artifacts import write_json


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_json(tmp_path / "result.json", {"status": "completed"})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left behind
