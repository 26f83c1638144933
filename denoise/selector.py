"""Which specialist runs for a given noise profile — one rule, written into every bundle manifest.

Rule (``mean_a_boundaries``, version 1): ``level = (((a_R + a_G1) + a_G2) + a_B) / 4`` in float64
(:meth:`NoiseProfile.level`); with K specialists ordered by noise range and K-1 ascending
``boundaries``, the chosen index is the number of boundaries ``<= level``. A level exactly on a
boundary therefore goes to the noisier specialist. Comparisons are made on the linear values (no
logarithms), so every implementation decides bit-identically.
"""
from __future__ import annotations

from typing import Sequence

from .noise import NoiseProfile

RULE = "mean_a_boundaries"
RULE_VERSION = 1


def select_index(level: float, boundaries: Sequence[float]) -> int:
    """Index of the specialist for ``level`` (see the module rule)."""
    if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
        raise ValueError(f"selector boundaries must be strictly ascending, got {list(boundaries)}")
    return sum(1 for b in boundaries if b <= level)


def select_for_profile(profile: NoiseProfile, boundaries: Sequence[float]) -> int:
    return select_index(profile.level(), boundaries)
