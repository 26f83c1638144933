"""BM3D for Poisson–Gaussian RAW noise through variance stabilization — the classic baseline.

The noisy plane ``z = a·Poisson(x/a) + N(0, b)`` is mapped by the generalized Anscombe transform
(GAT) to data with unit noise variance, denoised by BM3D for white Gaussian noise of σ = 1, and
mapped back with the closed-form approximation of the exact unbiased inverse of Mäkitalo & Foi
("Optimal inversion of the generalized Anscombe transformation for Poisson–Gaussian noise",
IEEE TIP 2013). The algebraic inverse would be biased low in dark areas; the exact unbiased
inverse maps E[GAT(z) | x] back to x.

The four stabilized planes are denoised jointly: an orthonormal 4-point transform (sum,
R−B, G1−G2, R+B−G1−G2) keeps the noise white with σ = 1 in every channel, and BM3D matches blocks on
the first (luminance-like, highest-SNR) channel and filters all four with those groups.
"""
from __future__ import annotations

import numpy as np

from denoise.noise import NoiseProfile

_SQRT_3_2 = np.sqrt(1.5)
# Rows: luminance, R−B, G1−G2, R+B−G1−G2 (planes in order R, G1, G2, B); orthonormal.
_DECORRELATE = np.array([[0.5, 0.5, 0.5, 0.5],
                         [1 / np.sqrt(2), 0.0, 0.0, -1 / np.sqrt(2)],
                         [0.0, 1 / np.sqrt(2), -1 / np.sqrt(2), 0.0],
                         [0.5, -0.5, -0.5, 0.5]])


def gat_forward(z: np.ndarray, a: float, b: float) -> np.ndarray:
    """Generalized Anscombe transform of data with ``Var = a·x + b``: output noise has σ ≈ 1.

    For ``a = 0`` (pure Gaussian) it is the plain scaling ``z / sqrt(b)``.
    """
    z = np.asarray(z, dtype=np.float64)
    if a == 0.0:
        return z / np.sqrt(b)
    # Counts domain: z/a = Poisson + N(0, b/a²); GAT = 2·sqrt(z/a + 3/8 + σ²).
    return 2.0 * np.sqrt(np.maximum(z / a + 0.375 + b / (a * a), 0.0))


def gat_inverse(d: np.ndarray, a: float, b: float) -> np.ndarray:
    """Closed-form approximation of the exact unbiased inverse of :func:`gat_forward`.

    ``I(D, σ) = D²/4 + √(3/2)/(4D) − 11/(8D²) + 5√(3/2)/(8D³) − 1/8 − σ²`` in counts, σ² = b/a²,
    clipped at 0 (Mäkitalo & Foi 2013), then scaled back by ``a``.
    """
    d = np.asarray(d, dtype=np.float64)
    if a == 0.0:
        return d * np.sqrt(b)
    # D below ~0.8 is outside the formula's range (its negative powers blow up); those counts are 0.
    dd = np.maximum(d, 0.8)
    counts = (0.25 * dd ** 2 + 0.25 * _SQRT_3_2 / dd - 1.375 / dd ** 2 + 0.625 * _SQRT_3_2 / dd ** 3
              - 0.125 - b / (a * a))
    return a * np.maximum(counts, 0.0)


def bm3d_vst_denoise(noisy_planes: np.ndarray, profile: NoiseProfile) -> np.ndarray:
    """Denoise (4, h, w) packed RGGB planes with GAT → joint 4-channel BM3D (σ = 1) → unbiased inverse."""
    import bm3d

    if noisy_planes.ndim != 3 or noisy_planes.shape[0] != 4:
        raise ValueError(f"bm3d expects packed (4, h, w) planes, got shape {noisy_planes.shape}")
    stabilized = np.stack([gat_forward(noisy_planes[p], profile.a[p], profile.b[p]) for p in range(4)])
    channels = np.tensordot(_DECORRELATE, stabilized, axes=1)          # (4, h, w), still σ = 1 white
    filtered = np.asarray(bm3d.bm3d(np.moveaxis(channels, 0, -1), sigma_psd=1.0), dtype=np.float64)
    estimate = np.tensordot(_DECORRELATE.T, np.moveaxis(filtered, -1, 0), axes=1)
    return np.stack([gat_inverse(estimate[p], profile.a[p], profile.b[p]) for p in range(4)]).astype(np.float32)
