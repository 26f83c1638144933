"""The blind estimator's signal bins and flatness test are exactly what its documented rules give,
however they are computed: bins close block by block at the target count, at the end, or before a
block too far above the bin's first; a block's residual is compared with every other plane's."""
from __future__ import annotations

import numpy as np
import pytest

from denoise.noise_estimate import (BIN_FLOOR, BIN_SPAN, DOF, MAX_BINS, MIN_BLOCKS_PER_BIN, _max_cross_correlation,
                                    _signal_bins)


def bins_block_by_block(sorted_mean: np.ndarray) -> list[np.ndarray]:
    """The binning rule walked one block at a time."""
    target = max(MIN_BLOCKS_PER_BIN, len(sorted_mean) // MAX_BINS)
    bins, start = [], 0
    for i in range(1, len(sorted_mean) + 1):
        if (i == len(sorted_mean) or i - start >= target
                or sorted_mean[i] > (1 + BIN_SPAN) * max(sorted_mean[start], 0.0) + BIN_FLOOR):
            if i - start >= MIN_BLOCKS_PER_BIN // 2:
                bins.append(np.arange(start, i))
            start = i
    return bins or [np.arange(len(sorted_mean))]


@pytest.mark.parametrize("count", [1, 7, 8, 16, 100, 3000, 40000])
@pytest.mark.parametrize("spread", [1e-3, 0.05, 1.0])
def test_signal_bins_follow_the_block_by_block_rule(count: int, spread: float) -> None:
    rng = np.random.default_rng(count)
    # Mixed scales: dense runs (bins close at the target count) and sparse tails (they close on signal).
    mean = np.sort(rng.normal(0.1, spread, count) * rng.choice([1.0, 0.01], count))
    got, expected = _signal_bins(mean), bins_block_by_block(mean)
    assert len(got) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_cross_plane_correlation_is_the_all_pairs_maximum() -> None:
    """Each pair of planes computed once gives, bit for bit, the maximum over every other plane."""
    res = np.random.default_rng(2).normal(size=(4, 5000, DOF))
    res[1, :100] = res[0, :100] + 0.1 * res[1, :100]      # blocks with texture shared by two planes
    unit = res / np.linalg.norm(res, axis=-1, keepdims=True)
    corr = np.abs(np.einsum("pbk,qbk->pqb", unit, unit))
    corr[np.arange(4), np.arange(4)] = 0.0
    got = _max_cross_correlation(unit)
    assert got.tobytes() == corr.max(axis=1).tobytes()
    assert got[:2, :100].min() > 0.9 and got[2:, :100].max() < 0.9
