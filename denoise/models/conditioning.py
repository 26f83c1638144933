"""Noise conditioning shared by every model: the per-sample scale and the per-pixel std map.

All models see their input divided by ``s = sqrt(mean(a) + mean(b))`` (so low- and high-noise
samples have comparable magnitudes and noise levels) plus the std map ``sqrt(a·max(x,0) + b) / s``;
their residual output is scaled back by ``s``. Without this a model trained over a ∈ [1e-4, 2e-2]
is dominated by the noisiest samples (see the training notes).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..noise import noise_terms


def noise_scale(noise: Tensor) -> Tensor:
    """(N, 8) noise vector ``[a×4, b×4]`` → (N, 1, 1, 1) scale ``sqrt(mean a + mean b)``."""
    a, b = noise_terms(noise)
    return torch.sqrt(a.mean(dim=1, keepdim=True) + b.mean(dim=1, keepdim=True) + 1e-12).reshape(-1, 1, 1, 1)


def normalized_inputs(x: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
    """Return ``(cond, scale)``: cond = cat(x / s, std(x) / s) with 8 channels."""
    a, b = (t[:, :, None, None] for t in noise_terms(noise))
    scale = noise_scale(noise)
    std = torch.sqrt(a * torch.relu(x) + b)
    return torch.cat([x / scale, std / scale], dim=1), scale
