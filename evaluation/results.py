"""Self-describing results files: strict JSON written atomically, with a header (kind, date,
command, machine) so that ``BENCHMARKS.md`` can say where each number came from.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

from denoise.atomic import atomic_output


class ResultsError(ValueError):
    """A results file that cannot be read as an evaluation result."""


def json_safe(value: Any) -> Any:
    """Replace NaN/inf floats by ``None`` (strict JSON has no spelling for them), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return json_safe(value.item())
    return value


def write_json(path: str | os.PathLike, data: dict) -> Path:
    """Write ``data`` as strict JSON, atomically (NaN/inf become ``null``)."""
    path = Path(path)
    text = json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: not a readable results JSON ({err}); re-run the evaluation that "
                           "wrote it") from None
    if not isinstance(data, dict) or "kind" not in data:
        raise ResultsError(f"{path}: JSON without a 'kind' field is not a rawdenoise results file")
    return data


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """CPU, core counts, OS and the library versions that decide the numbers."""
    import numpy
    import torch

    info = {"cpu": cpu_model(), "logical_cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "os": platform.platform(),
            "python": platform.python_version(), "numpy": numpy.__version__, "torch": torch.__version__}
    try:
        import onnxruntime
        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    return info


def results_header(kind: str, command: str) -> dict:
    """The fields every results JSON starts with."""
    return {"kind": kind, "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command, "machine": machine_info()}
