"""Atomic outputs for export: files through :func:`denoise.atomic.atomic_output`, and folders
(a bundle, an ``.mlpackage``) built beside their final path and renamed into place, so an
interrupted export never leaves a half-written artefact under its final name."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from denoise.atomic import atomic_output


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode("utf-8"))


def temp_path_beside(path: Path, suffix: str = ".tmp") -> Path:
    """A fresh, unused name in ``path``'s folder for a temporary file or folder (not created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp)


def move_into_place(src: Path, dst: Path) -> None:
    """Rename a finished file or folder ``src`` onto ``dst`` (same filesystem), replacing ``dst``.

    A folder cannot be renamed over a non-empty folder, so an old ``dst`` folder is renamed aside
    first and deleted only once the new one is in place.
    """
    if dst.is_dir() and not dst.is_symlink():
        old = temp_path_beside(dst, suffix=".old")
        os.replace(dst, old)
        try:
            os.replace(src, dst)
        except BaseException:
            os.replace(old, dst)
            raise
        shutil.rmtree(old)
    else:
        os.replace(src, dst)


def remove(path: Path) -> None:
    """Delete a temporary file or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
