"""Training losses, selected by name in recipes.

Pixel losses are divided per sample by the noise scale ``s = sqrt(mean a + mean b)``: a plain L1 on
the raw scale is dominated by the noisiest samples and the model then neglects low noise.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from denoise.models.conditioning import noise_scale

from .distill import FeatureTaps


def _per_sample_scale(noise: Tensor) -> Tensor:
    return noise_scale(noise)


def l1(pred: Tensor, target: Tensor, noise: Tensor) -> Tensor:
    return ((pred - target).abs() / _per_sample_scale(noise)).mean()


def charbonnier(pred: Tensor, target: Tensor, noise: Tensor, eps: float = 1e-3) -> Tensor:
    d = (pred - target) / _per_sample_scale(noise)
    return torch.sqrt(d * d + eps * eps).mean()


def l2(pred: Tensor, target: Tensor, noise: Tensor) -> Tensor:
    return (((pred - target) / _per_sample_scale(noise)) ** 2).mean()


PIXEL_LOSSES: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {"l1": l1, "charbonnier": charbonnier, "l2": l2}


class FeatureMatchingLoss(nn.Module):
    """The frozen teacher's features of the student output, matched to its features of the clean target.

    ``layers`` are module paths in the teacher, ``weights`` one per layer; ``norm`` "l1" or "l2".
    Each term is normalized by the mean magnitude of the target features so layers of different
    scale contribute comparably. The teacher sees the same noise vector as the student.
    """

    def __init__(self, teacher: nn.Module, layers: Sequence[str], weights: Sequence[float] | None = None,
                 norm: str = "l1") -> None:
        super().__init__()
        if norm not in ("l1", "l2"):
            raise ValueError(f"feature-matching norm must be 'l1' or 'l2', got {norm!r}")
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.layers = list(layers)
        self.weights = list(weights) if weights is not None else [1.0] * len(self.layers)
        if len(self.weights) != len(self.layers):
            raise ValueError("feature-matching needs one weight per layer")
        self.norm = norm
        self.taps = FeatureTaps(self.teacher, self.layers)

    def forward(self, pred: Tensor, target: Tensor, noise: Tensor) -> Tensor:
        with torch.no_grad():
            target_feats = self.taps.run(target, noise)
        pred_feats = self.taps.run(pred, noise)
        total = pred.new_zeros(())
        for w, name in zip(self.weights, self.layers):
            t, p = target_feats[name], pred_feats[name]
            d = (p - t).abs() if self.norm == "l1" else (p - t) ** 2
            total = total + w * d.mean() / (t.abs().mean() + 1e-6)
        return total


def output_distillation(student_out: Tensor, teacher_out: Tensor, noise: Tensor) -> Tensor:
    """|S(x) − T(x)|₁, noise-normalized: the denoising form of logit distillation."""
    return l1(student_out, teacher_out.detach(), noise)
