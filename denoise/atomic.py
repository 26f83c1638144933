"""Atomic outputs: write beside the final path, then rename into place.

An interrupted run never leaves a half-written image under the final name, and a file that
already exists there is only replaced once the new one is complete.
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
    """Yield a fresh temporary path in ``path``'s folder; rename it onto ``path`` on success.

    The temporary file is created with the usual permissions (0666 minus the umask), so the final
    file gets them too; on any error it is deleted and ``path`` is left untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as exc:
        raise OutputError(f"{path.parent}: cannot create files in this folder ({exc.strerror}); "
                          "choose a writable output folder") from None
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
