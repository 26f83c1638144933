"""Feature matching (the Feature-Align paper's distillation): the frozen teacher's features of the
student's output are matched to its features of the clean target, as a perceptual content loss.

A recipe selects it with ``loss.feature_matching: {teacher, layers, weights, norm, weight}`` (or by
name as ``loss.strategy``); the loss itself is :class:`training.losses.FeatureMatchingLoss`.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor

from denoise.models import load_checkpoint

from ..losses import FeatureMatchingLoss
from .base import Batch, Strategy, StrategyContext


class FeatureMatching(Strategy):
    """``weight`` × the feature-matching loss at the teacher's ``layers`` (module paths); stateless."""

    name = "feature_matching"

    def __init__(self, ctx: StrategyContext, teacher: str, layers: Sequence[str],
                 weights: Sequence[float] | None = None, norm: str = "l1", weight: float = 1.0) -> None:
        self.loss = FeatureMatchingLoss(load_checkpoint(teacher).to(ctx.device), layers, weights, norm)
        self.weight = float(weight)

    def loss_terms(self, step: int, batch: Batch, pred: Tensor) -> dict[str, Tensor]:
        return {"feature": self.weight * self.loss(pred, batch.clean, batch.noise)}
