"""One process per run directory: a lock file that lets several training processes share a plan.

A comparison or a set of specialists is a list of run directories; on a machine with more cores
(or GPUs) than one run can use, several processes work through the same list. Each takes
``RUN_DIR/train.lock`` before it trains a run and skips runs whose lock another live process
holds. Two processes writing one ``latest.pt`` would interleave optimizer states silently, so the
lock is taken by every training run, not only by the ones that share a plan. A lock left by a
process that died (same host, pid gone) is stale and replaced.
"""
from __future__ import annotations

import json
import os
import socket
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType

LOCK_NAME = "train.lock"


class RunBusy(RuntimeError):
    """The run directory is being trained by another live process."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def holder(run_dir: str | os.PathLike) -> dict | None:
    """The live process holding ``run_dir``'s lock (``{pid, host, since}``), or None when free or stale.

    A lock from another host cannot be checked and counts as held.
    """
    path = Path(run_dir) / LOCK_NAME
    try:
        info = json.loads(path.read_text())
        pid, host = int(info["pid"]), str(info["host"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable (a crash mid-write): stale
    if host == socket.gethostname() and not _alive(pid):
        return None
    return info


class RunLock:
    """``with RunLock(run_dir):`` — hold ``run_dir/train.lock`` for this process, or raise :class:`RunBusy`."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.held = False
        self.created = False

    def __enter__(self) -> "RunLock":
        self.created = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode()
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = holder(self.path.parent)
                if owner is not None:
                    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(owner.get("since", 0))))
                    raise RunBusy(f"{self.path.parent} is being trained by process {owner['pid']} on "
                                  f"{owner['host']} (since {since}); wait for it or stop it") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            self.held = True
            return self
        raise RunBusy(f"{self.path.parent}: another process took the lock at the same moment")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
        if self.created:  # a run that failed before writing anything leaves no empty folder behind
            with suppress(OSError):  # not empty: the run wrote something
                self.path.parent.rmdir()
