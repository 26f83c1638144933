"""A teacher's training route: the ``route/step_*.pt`` checkpoints a teacher run saves along the way
(``schedule.route_every`` in its recipe), used by RCO (anchors) and the early-stopped teacher."""
from __future__ import annotations

import os
import re
from pathlib import Path

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
