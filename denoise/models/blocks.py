"""Export-friendly building blocks (conv, depthwise conv, LeakyReLU, bilinear up, strided-conv down)."""
from __future__ import annotations

from torch import Tensor, nn


def act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=False)


class SeparableResBlock(nn.Module):
    """Two depthwise-separable 3×3 convs with a residual connection: cheap at high resolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels), nn.Conv2d(channels, channels, 1), act(),
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels), nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ConvBlock(nn.Module):
    """Two full 3×3 convs (the teacher's block): expensive, expressive."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), act(),
                                  nn.Conv2d(cout, cout, 3, padding=1), act())

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class Down(nn.Sequential):
    """Halve the resolution with a 2×2 stride-2 conv (no nearest-neighbour subsampling: see DESIGN)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 2, stride=2), act())


class PoolDown(nn.Sequential):
    """Average-pool ×2, then a 1×1 conv at the low resolution: a quarter of a strided conv's cost."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1), act())


class Up(nn.Sequential):
    """Channel change at low resolution (cheap), then bilinear ×2."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 1), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
