"""Atomic outputs: flushed to disk before the rename, and the temporary files of killed runs removed."""
from __future__ import annotations

import os

import pytest

from denoise import atomic
from denoise.atomic import atomic_output, remove_stale_temporaries


def test_the_file_is_flushed_to_disk_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    with atomic_output(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"data")
    assert events[:2] == ["fsync", "replace"]
    assert (tmp_path / "out.bin").read_bytes() == b"data"


def test_temporary_files_of_killed_runs_are_removed_when_the_output_is_written_again(tmp_path):
    dead = tmp_path / ".out.dng.999999999.a1b2c3.part"      # beyond any process id: that run is gone
    alive = tmp_path / f".out.dng.{os.getppid()}.d4e5f6.part"  # a running process may still write it
    other = tmp_path / ".other.dng.999999999.a1b2c3.part"    # another output's: not this write's business
    for path in (dead, alive, other):
        path.write_bytes(b"half")
    with atomic_output(tmp_path / "out.dng") as tmp:
        tmp.write_bytes(b"new")
    assert not dead.exists() and alive.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "out.dng"])


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "out.dng") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_names_with_glob_characters_are_matched_literally(tmp_path):
    stale = tmp_path / ".shot[1].dng.999999999.abc.part"
    look_alike = tmp_path / ".shot1.dng.999999999.abc.part"
    stale.write_bytes(b"")
    look_alike.write_bytes(b"")
    assert remove_stale_temporaries(tmp_path / "shot[1].dng") == [stale]
    assert look_alike.exists()
