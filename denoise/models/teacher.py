"""The large teacher: a full-convolution U-Net conditioned on the noise level (≥10× the student's
MACs). Trained with a pixel loss; its intermediate features are the feature-matching targets."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .blocks import ConvBlock, Down, Up
from .conditioning import normalized_inputs
from .feature_align import COND_CHANNELS


class UNetTeacher(nn.Module):
    """Encoder ``enc{i}`` / decoder ``dec{i}`` modules are the natural feature-tap points."""

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256)) -> None:
        super().__init__()
        widths = list(widths)
        self.config = {"widths": widths}
        levels = len(widths)
        self.stride = 2 ** (levels - 1)
        self.encoders = nn.ModuleList(ConvBlock(COND_CHANNELS if i == 0 else widths[i], widths[i])
                                      for i in range(levels))
        self.downs = nn.ModuleList(Down(widths[i], widths[i + 1]) for i in range(levels - 1))
        self.ups = nn.ModuleList(Up(widths[i + 1], widths[i]) for i in range(levels - 1))
        self.decoders = nn.ModuleList(ConvBlock(2 * widths[i], widths[i]) for i in range(levels - 1))
        self.head = nn.Conv2d(widths[0], 4, 3, padding=1)

    def forward(self, x: Tensor, noise: Tensor) -> Tensor:
        cond, scale = normalized_inputs(x, noise)
        h = cond
        skips = []
        for i, enc in enumerate(self.encoders):
            h = enc(h)
            if i < len(self.downs):
                skips.append(h)
                h = self.downs[i](h)
        for i in reversed(range(len(self.decoders))):
            h = self.decoders[i](torch.cat([self.ups[i](h), skips[i]], dim=1))
        return x + self.head(h) * scale
