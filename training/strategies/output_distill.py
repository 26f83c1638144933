"""Output distillation: the denoising form of logit distillation, ``|S(x) − T(x)|₁`` noise-normalized,
against one fixed teacher (RCO and ESKD vary the teacher or the weight over the schedule).

A recipe selects it with ``loss.output_distill: {teacher, weight}`` (or by name as ``loss.strategy``).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..losses import output_distillation
from .base import Batch, Strategy, StrategyContext, frozen_teacher


class OutputDistillation(Strategy):
    """``weight`` × the output distance to the frozen ``teacher`` checkpoint; stateless."""

    name = "output_distill"

    def __init__(self, ctx: StrategyContext, teacher: str, weight: float = 1.0) -> None:
        self.teacher = frozen_teacher(teacher, ctx.device)
        self.weight = float(weight)

    def loss_terms(self, step: int, batch: Batch, pred: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            target = self.teacher(batch.noisy, batch.noise)
        return {"output_distill": self.weight * output_distillation(pred, target, batch.noise)}
