"""Runtime start-up as a user meets it: fresh processes of ``python -c "import denoise"``,
``denoise --help`` and ``denoise run`` on a 12 MP DNG, each timed from launch to exit.

In-process timings (``denoise bench``) leave out interpreter start, imports and model loading;
these are the numbers a command-line user waits for. Each row is the median of ``repeats`` runs
with the peak resident memory of its process; the machine's load average is recorded beside
them, since on a shared machine it moves every wall time.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .cost import FRAME_12MP, write_test_dng
from .results import results_header, write_json


def _denoise_command() -> list[str]:
    """The installed ``denoise`` script beside this interpreter, else the module."""
    script = shutil.which("denoise", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "denoise.cli"]


# Runs in its own small interpreter: a child's peak RSS (ru_maxrss) counts the memory of the process it
# was forked from, so the timed commands must be forked from a process that holds next to nothing.
_TIMER = """
import json, os, subprocess, sys, tempfile, time
argv, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
walls, cpus, peaks = [], [], []
for _ in range(repeats):
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            sys.exit(f"exit status {proc.returncode}: {err.read().decode(errors='replace')[-500:]}")
    cpus.append(usage.ru_utime + usage.ru_stime)
    peaks.append(usage.ru_maxrss / 1024)
print(json.dumps({"walls": walls, "cpus": cpus, "peaks": peaks}))
"""


def time_process(argv: list[str], repeats: int) -> dict:
    """Median, min and max wall seconds of ``argv`` run ``repeats`` times, its median CPU seconds (user +
    system: what the process itself costs, whatever else the machine runs) and its peak RSS (MB)."""
    done = subprocess.run([sys.executable, "-c", _TIMER, json.dumps(argv), str(max(repeats, 1))],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    runs = json.loads(done.stdout)
    walls = runs["walls"]
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
            "cpu_s": statistics.median(runs["cpus"]), "peak_rss_mb": max(runs["peaks"]), "runs": len(walls)}


def run_startup_bench(out: str | os.PathLike, bundle: str | None = None, backend: str = "onnx",
                      frame: tuple[int, int] = FRAME_12MP, repeats: int = 5, command: str = "",
                      say: Callable[[str], None] = lambda message: None) -> dict:
    """Time the three start-up rows and write them to ``out`` (kind ``startup``)."""
    denoise = _denoise_command()
    data = {**results_header("startup", command), "frame": list(frame), "backend": backend,
            "bundle": bundle or "the shipped bundle", "repeats": repeats, "load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="rawdenoise-startup-") as tmp:
        dng = write_test_dng(Path(tmp) / "frame.dng", frame)
        run = [*denoise, "run", str(dng), "-o", str(Path(tmp) / "out.dng"), "-q", "--backend", backend]
        rows = [("python -c \"import denoise\"", [sys.executable, "-c", "import denoise"]),
                ("denoise --help", [*denoise, "--help"]),
                (f"denoise run ({frame[1]}×{frame[0]} DNG, {backend})", run + (["--bundle", bundle] if bundle else []))]
        data["rows"] = []
        for name, argv in rows:
            say(f"timing {name} ...")
            data["rows"].append({"name": name, **time_process(argv, repeats)})
    data["load_average_after"] = os.getloadavg()
    write_json(out, data)
    return data
