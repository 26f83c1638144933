"""Which specialist runs for a given noise profile: the one definition of the rule, of the bundle
manifest's ``selection`` block, and of how boundaries split a noise range.

Rule (``mean_a_boundaries``, version 1): ``level = (((a_R + a_G1) + a_G2) + a_B) / 4`` in float64
(:func:`noise_level`); with K specialists ordered by noise range and K-1 ascending ``boundaries``,
the chosen index is the number of boundaries ``<= level``. A level exactly on a boundary therefore
goes to the noisier specialist. Comparisons are made on the linear values (no logarithms), so every
implementation (this SDK, the Android core) decides bit-identically. Training splits a range of the
shot term with :func:`split_boundaries`, export writes :func:`selection_block`, the runtime reads it
back with :func:`read_selection` and selects with :func:`select_index`.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .noise import NoiseProfile

RULE = "mean_a_boundaries"
RULE_VERSION = 1
NOISE_LEVEL_DEFINITION = ("mean shot term over planes R,G1,G2,B: (((a_R + a_G1) + a_G2) + a_B) / 4 in float64; "
                          "index = number of boundaries <= level")


class SelectionError(ValueError):
    """Boundaries or a ``selection`` block that do not define a valid choice among the specialists."""


def noise_level(profile: NoiseProfile) -> float:
    """The scalar a specialist is chosen by: the mean shot term, summed in plane order, in float64."""
    a = profile.a
    return (((float(a[0]) + float(a[1])) + float(a[2])) + float(a[3])) / 4.0


def _check_ascending(boundaries: Sequence[float]) -> None:
    if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
        raise SelectionError(f"selector boundaries must be strictly ascending, got {list(boundaries)}")


def select_index(level: float, boundaries: Sequence[float]) -> int:
    """Index of the specialist for ``level`` (see the module rule)."""
    _check_ascending(boundaries)
    return sum(1 for b in boundaries if b <= level)


def select_for_profile(profile: NoiseProfile, boundaries: Sequence[float]) -> int:
    """Index of the specialist for ``profile``: :func:`select_index` of its :func:`noise_level`."""
    return select_index(noise_level(profile), boundaries)


def split_boundaries(a_range: Sequence[float], count: int) -> list[float]:
    """K-1 boundaries splitting ``[lo, hi]`` of the shot term into ``count`` equal parts in log space:
    noise that is twice as strong is equally hard anywhere in the range."""
    lo, hi = float(a_range[0]), float(a_range[1])
    if not 0 < lo < hi:
        raise SelectionError(f"a noise range needs 0 < low < high, got {list(a_range)}")
    if count < 1:
        raise SelectionError(f"need at least one specialist, got {count}")
    step = (math.log(hi) - math.log(lo)) / count
    return [float(math.exp(math.log(lo) + k * step)) for k in range(1, count)]


def core_ranges(a_range: Sequence[float], boundaries: Sequence[float]) -> list[tuple[float, float]]:
    """The range of levels each specialist is selected for: ``[lo, b0], [b0, b1], …, [b_last, hi]``."""
    lo, hi = float(a_range[0]), float(a_range[1])
    _check_ascending(boundaries)
    if any(not lo < b < hi for b in boundaries):
        raise SelectionError(f"boundaries {list(boundaries)} must lie inside the noise range {[lo, hi]}")
    edges = [lo, *(float(b) for b in boundaries), hi]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def boundaries_of(cores: Sequence[Sequence[float]]) -> list[float]:
    """The boundaries between contiguous core ranges (ordered by noise), the inverse of :func:`core_ranges`."""
    for left, right in zip(cores, cores[1:]):
        if not math.isclose(float(left[1]), float(right[0]), rel_tol=1e-9):
            raise SelectionError(f"core ranges {list(left)} and {list(right)} do not meet: "
                                 "the selector needs contiguous ranges")
    boundaries = [float(c[0]) for c in cores[1:]]
    _check_ascending(boundaries)
    return boundaries


def selection_block(boundaries: Sequence[float]) -> dict[str, Any]:
    """The manifest's ``selection`` entry for these boundaries."""
    _check_ascending(boundaries)
    return {"rule": RULE, "rule_version": RULE_VERSION, "noise_level": NOISE_LEVEL_DEFINITION,
            "boundaries": [float(b) for b in boundaries]}


def read_selection(block: Any, cores: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """The boundaries of a manifest's ``selection`` block, checked against the rule this SDK implements
    and against the specialists' core ranges (in manifest order)."""
    if not isinstance(block, dict):
        raise SelectionError("has no 'selection'; re-export the bundle")
    version = block.get("rule_version")
    if block.get("rule") != RULE or isinstance(version, bool) or version != RULE_VERSION:  # true == 1 in Python
        raise SelectionError(f"selection rule {block.get('rule')!r} version {block.get('rule_version')!r} is not "
                             f"supported (this SDK implements {RULE!r} version {RULE_VERSION}); update rawdenoise")
    boundaries = block.get("boundaries")
    if not isinstance(boundaries, list) or not all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) and b > 0 for b in boundaries):
        raise SelectionError("selection.boundaries must be a list of positive numbers; re-export the bundle")
    if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
        raise SelectionError(f"selection.boundaries {boundaries} are not strictly ascending; re-export the bundle")
    if len(boundaries) != len(cores) - 1:
        raise SelectionError(f"has {len(cores)} specialists but {len(boundaries)} boundaries (needs {len(cores) - 1}); "
                             "re-export the bundle")
    for i, b in enumerate(boundaries):
        if not (math.isclose(cores[i][1], b, rel_tol=1e-9) and math.isclose(cores[i + 1][0], b, rel_tol=1e-9)):
            raise SelectionError(f"boundary {b} does not separate the core ranges of specialists {i} and {i + 1}; "
                                 "re-export the bundle")
    return tuple(float(b) for b in boundaries)
