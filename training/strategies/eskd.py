"""Early-stopped teacher and early-stopped distillation (Cho & Hariharan, ICCV 2019), for denoising.

Larger, more accurate teachers are often worse teachers for a small student (the capacity gap);
two remedies, usable together: distil from a checkpoint taken part-way along the teacher's own
schedule (``route`` + ``fraction``), and stop the distillation term at ``t_stop`` (ESKD): after it
the student trains on its pixel loss alone and the teacher is not run at all.
The term is output distillation ``|S(x) − T(x)|₁`` (noise-normalized).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from ..losses import output_distillation
from .base import Batch, Strategy, StrategyContext, StrategyError, frozen_teacher, parse_fraction
from .route import early_stopped_checkpoint


class EarlyStoppedKD(Strategy):
    """``teacher`` (a checkpoint) or ``route`` + ``fraction``; ``stop_fraction`` or ``stop_step`` sets t_stop."""

    name = "eskd"

    def __init__(self, ctx: StrategyContext, teacher: str | None = None, route: str | None = None,
                 fraction: float = 0.5, teacher_steps: int | None = None, stop_fraction: float = 0.5,
                 stop_step: int | None = None, weight: float = 1.0) -> None:
        if (teacher is None) == (route is None):
            raise StrategyError("eskd needs exactly one of 'teacher' (a checkpoint) or 'route' (a route folder)")
        path = Path(teacher) if teacher else early_stopped_checkpoint(
            route, parse_fraction(fraction, "eskd fraction"), teacher_steps)
        if not path.is_file():
            raise StrategyError(f"{path}: no such teacher checkpoint for eskd")
        self.teacher_path = path
        self.teacher = frozen_teacher(str(path), ctx.device)
        self.t_stop = int(stop_step) if stop_step is not None else math.ceil(
            parse_fraction(stop_fraction, "eskd stop_fraction") * ctx.steps)
        self.weight = float(weight)

    def weight_at(self, step: int) -> float:
        """The distillation weight schedule: constant, then 0 from ``t_stop`` on."""
        return self.weight if step < self.t_stop else 0.0

    def teacher_needed(self, step: int) -> bool:
        return self.weight_at(step) > 0.0

    def loss_terms(self, step: int, batch: Batch, pred: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            target = self.teacher(batch.noisy, batch.noise)
        return {"eskd": self.weight_at(step) * output_distillation(pred, target, batch.noise)}
