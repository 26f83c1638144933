"""Atomic outputs: write beside the final path, flush to disk, then rename into place.

An interrupted run never leaves a half-written image under the final name, and a file that
already exists there is only replaced once the new one is complete and on disk. Temporary
files carry the writing process's id, so the debris of a killed run is recognised and removed
the next time the same output is written.
"""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OutputError


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path in ``path``'s folder; fsync it and rename it onto ``path`` on success.

    The temporary file is created with the usual permissions (0666 minus the umask), so the final
    file gets them too; on any error it is deleted and ``path`` is left untouched. Temporary files
    of ``path`` left by processes that no longer run are deleted first.
    """
    path = Path(path)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.part")
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as exc:
        raise OutputError(f"{path.parent}: cannot create files in this folder ({exc.strerror}); "
                          "choose a writable output folder") from None
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of ``path`` whose writing process is gone (killed mid-write); return them.

    A temporary file of a process still running on this machine is left alone: it may be writing
    the same output right now.
    """
    path = Path(path)
    removed = []
    try:
        candidates = list(path.parent.glob(f".{_glob_escape(path.name)}.*.part"))
    except OSError:
        return removed
    for tmp in candidates:
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not process_running(int(pid)):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def process_running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True when that cannot be told)."""
    if pid == os.getpid() or os.name != "posix":  # on Windows os.kill would terminate the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, OSError):  # another user's process, or an id out of range
        return True
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; folders cannot be opened for fsync on every platform."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
