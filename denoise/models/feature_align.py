"""The Feature-Align student: a light encoder–decoder whose activations are modulated by the noisy
input itself (``h ← h·(1 + γ) + β``, γ and β computed per scale from the noisy planes and their
std map), so spatially varying noise is not washed out along the network.
Setting ``feature_align=False`` gives the plain student used for the ablation; it spends the
MACs saved on a 3×3 stem instead so both variants cost the same. ``separable_stem`` buys the
full-resolution 3×3 context for a sixth of that, ``fa_levels`` limits the modulation to the coarser
levels and ``fa_input`` chooses what γ, β see (see ``FA_INPUTS``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .blocks import PoolDown, SeparableResBlock, Up, act
from .conditioning import normalized_inputs

COND_CHANNELS = 8  # 4 normalized noisy planes + 4 normalized std planes
# What γ, β are computed from. "normalized": the network input (x / s, std / s) — at low noise x / s
# reaches ~100, so a multiplicative modulation computed from it swings by orders of magnitude across
# noise levels. "bounded": the noisy planes as they are (in [0, 1]) with the std map / s, both O(1).
FA_INPUTS = ("normalized", "bounded")


class FeatureAlign(nn.Module):
    """γ, β for one or more feature maps of one scale, from the conditioning image at that scale.

    The hidden conv is shared by the ``points`` modulated at this scale (encoder and decoder side).
    """

    def __init__(self, channels: int, hidden: int, points: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Conv2d(COND_CHANNELS, hidden, kernel, padding=kernel // 2), act())
        self.heads = nn.ModuleList(nn.Conv2d(hidden, 2 * channels, 1) for _ in range(points))
        for head in self.heads:  # start as the identity modulation
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.channels = channels

    def features(self, cond: Tensor) -> Tensor:
        return self.hidden(cond)

    def modulate(self, h: Tensor, hidden: Tensor, point: int) -> Tensor:
        gb = self.heads[point](hidden)
        return h * (1.0 + gb[:, : self.channels]) + gb[:, self.channels:]


def make_stem(width: int, kernel: int, separable: bool) -> nn.Sequential:
    """The stem from the 8 conditioning planes to ``width`` channels: a full k×k conv, or (``separable``)
    k×k context on each input plane then a 1×1 mix, ~1/6 of a full 3×3 stem's MACs."""
    if separable:
        return nn.Sequential(nn.Conv2d(COND_CHANNELS, COND_CHANNELS, kernel, padding=kernel // 2, groups=COND_CHANNELS),
                             nn.Conv2d(COND_CHANNELS, width, 1), act())
    return nn.Sequential(nn.Conv2d(COND_CHANNELS, width, kernel, padding=kernel // 2), act())


class FeatureAlignStudent(nn.Module):
    """U-shaped student on packed RGGB planes; input (N,4,h,w) + noise (N,8) → (N,4,h,w).

    Level i works at 1/2^i of the packed resolution with ``widths[i]`` channels. Encoder blocks
    at level i: ``enc_blocks[i]`` (the last level is the bottleneck), decoder blocks: ``dec_blocks[i]``.
    With Feature-Align, every level's decoder output (and encoder output, where it has blocks) is
    modulated.
    """

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 128), enc_blocks: Sequence[int] = (0, 0, 1, 1),
                 dec_blocks: Sequence[int] = (1, 1, 1), fa_hidden: Sequence[int] = (8, 8, 8, 16),
                 feature_align: bool = True, stem_kernel: int | None = None, fa_levels: int | None = None,
                 separable_stem: bool = False, fa_input: str = "normalized") -> None:
        super().__init__()
        widths, enc_blocks, dec_blocks, fa_hidden = list(widths), list(enc_blocks), list(dec_blocks), list(fa_hidden)
        levels = len(widths)
        if not (len(enc_blocks) == levels and len(dec_blocks) == levels - 1 and len(fa_hidden) == levels):
            raise ValueError("widths, enc_blocks, fa_hidden need one entry per level; dec_blocks one fewer")
        self.config = {"widths": widths, "enc_blocks": enc_blocks, "dec_blocks": dec_blocks,
                       "fa_hidden": fa_hidden, "feature_align": feature_align}
        # Older checkpoints have neither key: 1×1 stem with Feature-Align (3×3 without), FA at every level.
        if stem_kernel is not None:
            self.config["stem_kernel"] = stem_kernel
        if fa_levels is not None:
            self.config["fa_levels"] = fa_levels
        if separable_stem:
            self.config["separable_stem"] = True
        if fa_input not in FA_INPUTS:
            raise ValueError(f"fa_input must be one of {FA_INPUTS}, got {fa_input!r}")
        if fa_input != "normalized":
            self.config["fa_input"] = fa_input
        self.fa_input = fa_input
        self.stride = 2 ** (levels - 1)
        self.feature_align = feature_align
        stem_kernel = stem_kernel if stem_kernel is not None else (1 if feature_align else 3)
        # Feature-Align on the deepest ``fa_levels`` levels (all by default): at full resolution the
        # modulation costs as much as a 3×3 stem, which the ablation found worth more there.
        self.fa_start = levels - (fa_levels if fa_levels is not None else levels)
        if not 0 <= self.fa_start < levels:
            raise ValueError(f"fa_levels must be 1…{levels}, got {fa_levels}")
        self.stem = make_stem(widths[0], stem_kernel, separable_stem)
        self.encoders = nn.ModuleList(nn.Sequential(*[SeparableResBlock(widths[i]) for _ in range(enc_blocks[i])])
                                      for i in range(levels))
        self.downs = nn.ModuleList(PoolDown(widths[i], widths[i + 1]) for i in range(levels - 1))
        self.ups = nn.ModuleList(Up(widths[i + 1], widths[i]) for i in range(levels - 1))
        self.decoders = nn.ModuleList(nn.Sequential(*[SeparableResBlock(widths[i]) for _ in range(dec_blocks[i])])
                                      for i in range(levels - 1))
        # Modulation points per level: encoder output (if it has blocks) and decoder output.
        self._enc_point = [enc_blocks[i] > 0 or i == levels - 1 for i in range(levels)]
        if feature_align:  # keyed by level ("0", "1", …): the same state-dict names as a list of every level
            self.align = nn.ModuleDict({
                str(i): FeatureAlign(widths[i], fa_hidden[i], int(self._enc_point[i]) + int(i < levels - 1),
                                     1 if i == 0 else 3)
                for i in range(self.fa_start, levels)})
        self.pool = nn.AvgPool2d(2)
        self.head = nn.Conv2d(widths[0], 4, 1)

    def forward(self, x: Tensor, noise: Tensor) -> Tensor:
        cond, scale = normalized_inputs(x, noise)
        hidden: dict[int, Tensor] = {}
        if self.feature_align:
            c = cond if self.fa_input == "normalized" else torch.cat([x, cond[:, 4:]], dim=1)
            for i in range(len(self.encoders)):
                if i:
                    c = self.pool(c)
                if i >= self.fa_start:
                    hidden[i] = self.align[str(i)].features(c)
        h = self.stem(cond)
        skips = []
        for i, enc in enumerate(self.encoders):
            h = enc(h)
            if i in hidden and self._enc_point[i]:
                h = self.align[str(i)].modulate(h, hidden[i], 0)
            if i < len(self.downs):
                skips.append(h)
                h = self.downs[i](h)
        for i in reversed(range(len(self.decoders))):
            h = self.decoders[i](self.ups[i](h) + skips[i])
            if i in hidden:
                h = self.align[str(i)].modulate(h, hidden[i], int(self._enc_point[i]))
        return x + self.head(h) * scale
