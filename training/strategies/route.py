"""A teacher's training route: the ``route/step_*.pt`` checkpoints a teacher run saves along the way
(``schedule.route_every`` in its recipe), used by RCO (anchors) and the early-stopped teacher.

The run's ``metrics.jsonl`` beside the route holds the validation PSNR at every ``val_every``
step; a teacher meant for RCO saves its route at validation steps (``route_every`` a multiple of
``val_every``), so every anchor's quality is known without running it.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
import yaml

from .base import StrategyError

_STEP = re.compile(r"^step_(\d+)\.pt$")


def route_checkpoints(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """``[(step, path)]`` of a route folder, in training order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StrategyError(f"{folder}: no such route folder; train the teacher with schedule.route_every > 0")
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name)))
    if not found:
        raise StrategyError(f"{folder}: holds no step_*.pt route checkpoints; train the teacher with "
                            "schedule.route_every > 0")
    return found


def teacher_schedule_steps(folder: str | os.PathLike) -> int | None:
    """The teacher run's planned steps (``optim.steps`` of the run's config.yaml beside the route), if known."""
    config = Path(folder).parent / "config.yaml"
    if not config.is_file():
        return None
    steps = (yaml.safe_load(config.read_text()) or {}).get("optim", {}).get("steps")
    return int(steps) if steps else None


def early_stopped_checkpoint(folder: str | os.PathLike, fraction: float, total_steps: int | None = None) -> Path:
    """The route checkpoint nearest ``fraction`` of the teacher's schedule (ties: the earlier one).

    ``total_steps`` defaults to the teacher run's ``optim.steps``, else to its last route step.
    """
    route = route_checkpoints(folder)
    total = total_steps or teacher_schedule_steps(folder) or route[-1][0]
    target = fraction * total
    return min(route, key=lambda sp: (abs(sp[0] - target), sp[0]))[1]


def route_validation_psnr(folder: str | os.PathLike) -> dict[int, float]:
    """``{step: mean validation PSNR}`` of the teacher run the route folder belongs to (its metrics.jsonl)."""
    metrics = Path(folder).parent / "metrics.jsonl"
    if not metrics.is_file():
        raise StrategyError(f"{metrics}: no metrics beside the route {folder}; anchors are chosen by the teacher's "
                            "validation PSNR")
    psnr = {}
    for line in metrics.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a half-written last line of a run that was killed
        if isinstance(row, dict) and isinstance(row.get("val_psnr"), dict) and "mean" in row["val_psnr"]:
            psnr[int(row["step"])] = float(row["val_psnr"]["mean"])
    return psnr


def checkpoint_step(path: str | os.PathLike) -> int | None:
    """The training step a model checkpoint was written at (its ``meta.step``), if it records one."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    record = record.get("model", record) if isinstance(record, dict) else {}
    step = record.get("meta", {}).get("step") if isinstance(record, dict) else None
    return int(step) if step is not None else None


def psnr_spaced(psnr: list[float], count: int) -> list[int]:
    """Indices of ``count`` points (in route order, the last always kept) whose PSNRs are nearest to
    ``count`` targets evenly spaced from the first point's PSNR to the last one's: early, middle and
    late in what the teacher learned, wherever along its steps that happened."""
    n = len(psnr)
    if count >= n:
        return list(range(n))
    if count < 1:
        raise StrategyError(f"route anchor count must be >= 1, got {count}")
    lo, hi = psnr[0], psnr[-1]
    chosen: list[int] = []
    for k in range(count - 1):
        target = lo + (hi - lo) * k / max(1, count - 1)
        first = chosen[-1] + 1 if chosen else 0
        last = n - 1 - (count - 1 - k)  # leave a point for every later target and the final one
        chosen.append(min(range(first, last + 1), key=lambda i: (abs(psnr[i] - target), i)))
    return [*chosen, n - 1]


def evenly_spaced(items: list, count: int | None) -> list:
    """``count`` items spread over ``items``, always keeping the last (the final teacher)."""
    if count is None or count >= len(items):
        return list(items)
    if count < 1:
        raise StrategyError(f"route anchor count must be >= 1, got {count}")
    if count == 1:
        return [items[-1]]
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]
