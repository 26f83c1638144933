"""A student whose blocks were chosen by the cost-aware architecture search
(``training/strategies/student_search.py``), built and exported like any other model.

Same skeleton as the Feature-Align student (stem, Feature-Align modulation per level, avg-pool
down, bilinear up, residual head). Each level's encoder and decoder hold a list of blocks, each
named ``"sep:M"`` (depthwise-separable residual block with hidden width M × channels) or
``"full:M"`` (residual block of two full 3×3 convs, hidden width M × channels); an empty list is
no block. ``"sep:1"`` is exactly the Feature-Align student's block, so the default configuration
is the default Feature-Align student (same parameter names too).
"""
from __future__ import annotations

import math
from typing import Sequence

from torch import Tensor, nn

from .blocks import act
from .feature_align import FeatureAlignStudent

BLOCK_KINDS = ("sep", "full")


def parse_op(op: str) -> tuple[str, float]:
    """``"sep:0.5"`` → ``("sep", 0.5)``."""
    kind, _, mult = str(op).partition(":")
    try:
        m = float(mult)
    except ValueError:
        m = math.nan
    if kind not in BLOCK_KINDS or not m > 0:
        raise ValueError(f"block {op!r}: use 'sep:M' or 'full:M' with a width multiplier M > 0")
    return kind, m


def hidden_width(channels: int, mult: float) -> int:
    return max(1, round(channels * mult))


class SeparableBlock(nn.Module):
    """x + (depthwise 3×3 → 1×1 to ``hidden`` → act → depthwise 3×3 → 1×1 back)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels), nn.Conv2d(channels, hidden, 1), act(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden), nn.Conv2d(hidden, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class FullBlock(nn.Module):
    """x + (full 3×3 to ``hidden`` → act → full 3×3 back): expressive, costly at high resolution."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), act(),
                                  nn.Conv2d(hidden, channels, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def make_block(op: str, channels: int) -> nn.Module:
    kind, mult = parse_op(op)
    block = SeparableBlock if kind == "sep" else FullBlock
    return block(channels, hidden_width(channels, mult))


class SearchedStudent(FeatureAlignStudent):
    """Feature-Align student with per-level block lists ``enc_ops`` (one per level) and ``dec_ops`` (one fewer).

    The stem (``stem_kernel``, ``separable_stem``), the Feature-Align levels (``fa_levels``) and its
    input (``fa_input``) are the Feature-Align student's options, so every such student is also a
    searched one (see :func:`searched_config`).
    """

    def __init__(self, widths: Sequence[int] = (16, 32, 64, 128),
                 enc_ops: Sequence[Sequence[str]] = ((), (), ("sep:1",), ("sep:1",)),
                 dec_ops: Sequence[Sequence[str]] = (("sep:1",), ("sep:1",), ("sep:1",)),
                 fa_hidden: Sequence[int] = (8, 8, 8, 16), feature_align: bool = True, stem_kernel: int | None = None,
                 fa_levels: int | None = None, separable_stem: bool = False, fa_input: str = "normalized") -> None:
        enc_ops, dec_ops = [list(o) for o in enc_ops], [list(o) for o in dec_ops]
        super().__init__(widths, [len(o) for o in enc_ops], [len(o) for o in dec_ops], fa_hidden, feature_align,
                         stem_kernel, fa_levels, separable_stem, fa_input)
        widths = list(widths)
        self.encoders = nn.ModuleList(nn.Sequential(*[make_block(op, w) for op in ops])
                                      for w, ops in zip(widths, enc_ops))
        self.decoders = nn.ModuleList(nn.Sequential(*[make_block(op, w) for op in ops])
                                      for w, ops in zip(widths, dec_ops))
        options = {k: v for k, v in self.config.items()
                   if k in ("stem_kernel", "fa_levels", "separable_stem", "fa_input")}
        self.config = {"widths": widths, "enc_ops": enc_ops, "dec_ops": dec_ops, "fa_hidden": list(fa_hidden),
                       "feature_align": feature_align, **options}


def searched_config(arch: str, config: dict) -> dict:
    """The ``searched`` config, every option explicit, that builds the same network as a ``feature_align``
    or ``searched`` model ``config`` (Feature-Align blocks are ``sep:1``): equal networks get equal
    configs, so a Feature-Align student can be placed in a search space or beside searched students."""
    if arch == "searched":
        c = dict(SearchedStudent(**config).config)
    elif arch == "feature_align":
        c = dict(FeatureAlignStudent(**config).config)
        c["enc_ops"] = [["sep:1"] * n for n in c.pop("enc_blocks")]
        c["dec_ops"] = [["sep:1"] * n for n in c.pop("dec_blocks")]
    else:
        raise ValueError(f"only feature_align and searched students have a searched config, not {arch!r}")
    fa = bool(c["feature_align"])
    return {"widths": c["widths"], "enc_ops": c["enc_ops"], "dec_ops": c["dec_ops"], "fa_hidden": c["fa_hidden"],
            "feature_align": fa, "stem_kernel": c.get("stem_kernel", 1 if fa else 3),
            "separable_stem": c.get("separable_stem", False), "fa_levels": c.get("fa_levels", len(c["widths"])),
            "fa_input": c.get("fa_input", "normalized")}
