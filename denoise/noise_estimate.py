"""Blind noise estimation: the ``Var = a·x + b`` profile of each CFA plane from one noisy mosaic.

Used when a RAW file carries no NoiseProfile tag and the user gives no ``--noise``. It has to
work on ordinary, textured photos, so most of the method is about telling texture from noise:

1. **Residuals.** Each packed plane is cut into blocks of ``BLOCK``×``BLOCK`` cells of 2×2 pixels
   (8×8 plane pixels). Per cell, the orthonormal Haar transform gives LL, HL, LH, HH; per block,
   LL minus its best quadratic surface and HL, LH, HH minus their best planes leave
   ``DOF = 49`` residual coordinates. All kernels have unit norm and do not overlap, so on a
   block without texture the coordinates are independent with the noise variance, and smooth
   signal (flat areas, gradients, shading) does not reach them. ``|residual|² / DOF`` is then
   ``σ²·χ²_DOF / DOF`` with ``σ² = a·x + b`` at the block's mean signal ``x``.
2. **Flat blocks.** A block is used on a plane only if (a) its coarse (LL) and first-order (HL,
   LH) residual energies are not significantly above its HH energy (F tests: edges and curved
   structure put more energy there than in HH, noise does not), and (b) its residual is
   uncorrelated with the residual of every other plane at the same place (sensor noise is
   independent across the CFA planes; scene texture is shared by them). For Gaussian noise these
   tests depend only on the direction of the residual vectors, which is independent of their
   length, so the selected blocks' variances keep their ``χ²_DOF`` law. Blocks touching clipped
   pixels (a value repeated at the mosaic's minimum or maximum) are dropped. On a photograph full
   of fine texture (fur, foliage) few blocks pass at low noise; rather than refuse, the plane then
   uses its ``MIN_FLAT_BLOCKS`` flattest blocks (ranked by how far the worst test misses), and the
   estimate says its confidence is low.
3. **Bins.** Blocks sorted by mean signal are grouped in bins that are narrow in signal. Texture
   that slipped through only adds variance, so each bin takes the low quantile ``QUANTILE`` of
   its block variances, divided by the same quantile of ``χ²_DOF / DOF`` so that it is unbiased
   for pure noise. After a first fit, bins are re-formed with each block's variance divided by
   the fitted variance at its own signal, so that a bin's quantile does not favour its darkest
   blocks.
4. **Fit.** ``var = a·x + b`` with ``a, b ≥ 0`` by non-negative least squares on relative
   residuals, weighted by each bin's expected precision; bins more than ``TRIM_SIGMAS`` of their
   standard errors above the line are texture and are dropped, and the fit is repeated. When the
   flat areas span too little signal to separate shot from read noise (the slope's standard
   error exceeds ``MAX_SLOPE_REL_SE``), ``b`` follows ``a`` on the DND-fitted relation
   :func:`~denoise.noise.log_linear_b` and only ``a`` is fitted; ``detail`` says so.

Measured (``tests/test_noise_estimate.py``): on 512×512 procedural scenes over a ∈ [1e-4, 2e-2]
the noise std at the scene's mean signal is off by about 4 % (median; worst plane about 10 %),
mostly an over-estimate from texture that passes the tests; on texture-free images it is unbiased
to within 1 %. On textured photograph crops (``tests/test_noise_estimate_photos.py``) the mean
shot term of the four planes is within about 7 % (median) of the truth; low confidence marks the
crops where it is not. A 12 MP mosaic takes about 0.3–0.5 s on one core (blocks subsampled to
``MAX_BLOCKS`` per plane).
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
from scipy.integrate import simpson
from scipy.optimize import minimize_scalar, nnls
from scipy.stats import beta, chi2, f

from .cfa import BAYER_PATTERNS, pack_rggb, plane_of_pixel
from .noise import PLANES, NoiseProfile, log_linear_b

BLOCK = 4                 # cells per block side: 4×4 cells of 2×2 = 8×8 plane pixels
QUANTILE = 0.2            # low quantile of block variances taken in each signal bin
FLAT_CONFIDENCE = 0.9     # F tests (coarse / first-order energy vs HH) at this level
CORR_SIGMAS = 2.0         # max |correlation| of a block's residual with another plane's, in sigmas
MIN_FLAT_BLOCKS = 96      # per plane; when fewer pass the flatness tests, the flattest this many are used
MIN_BLOCKS_PER_BIN = 16   # bins close at max(this, blocks / MAX_BINS) blocks; half of it is the least used
MAX_BINS = 24
BIN_SPAN = 0.25           # a bin's signal may grow by this fraction (plus BIN_FLOOR) from its first block
BIN_FLOOR = 0.01
TRIM_SIGMAS = 3.0         # bins this many of their own standard errors above the line are texture
MAX_SLOPE_REL_SE = 0.3    # beyond this relative standard error of a, shot and read noise are not separable
FIT_ITERATIONS = 20
REBIN_ITERATIONS = 3      # the first binning uses raw variances, the next ones the previous fit's shape
MAX_BLOCKS = 16_000       # per plane; larger images are subsampled on a regular grid of blocks
MIN_PLANE_SIZE = 2 * BLOCK * 8  # plane pixels per side (8×8 blocks)
CLIP_FRACTION = 1e-4      # a value repeated this often at the mosaic's min/max means clipping
SILENT_STD = 1e-6         # residual std below this fraction of the signal is rounding, not sensor noise

_DOF_COARSE = BLOCK * BLOCK - 6   # LL minus a quadratic surface
_DOF_DETAIL = BLOCK * BLOCK - 3   # HL, LH, HH each minus a plane
DOF = _DOF_COARSE + 3 * _DOF_DETAIL
_F_COARSE = f.ppf(FLAT_CONFIDENCE, _DOF_COARSE, _DOF_DETAIL)
_F_DETAIL = f.ppf(FLAT_CONFIDENCE, 2 * _DOF_DETAIL, _DOF_DETAIL)
_CORR_LIMIT = CORR_SIGMAS / np.sqrt(DOF)
_ADVICE = "pass the noise with --noise a,b"


class NoiseEstimateError(ValueError):
    """A mosaic from which no noise profile can be estimated (too small, flat, clipped or not finite)."""


def estimate_noise(mosaic: np.ndarray, pattern: str = "RGGB") -> NoiseProfile:
    """Blind (a, b) per CFA plane (R, G1, G2, B) from one noisy Bayer mosaic on the normalized scale.

    ``detail`` ends with the confidence: "high" when every plane has ``MIN_FLAT_BLOCKS`` blocks that
    pass the flatness tests, "low" (with the reason) when textured blocks had to stand in.
    """
    mosaic = np.asarray(mosaic)
    if mosaic.ndim != 2:
        raise NoiseEstimateError(f"noise estimation needs a 2-D Bayer mosaic, got shape {mosaic.shape}")
    if pattern not in BAYER_PATTERNS:
        raise NoiseEstimateError(f"unknown Bayer pattern {pattern!r}; expected one of {BAYER_PATTERNS}")
    if not np.all(np.isfinite(mosaic)):
        raise NoiseEstimateError(f"mosaic contains NaN or infinite values; cannot estimate noise ({_ADVICE})")
    # Crop (not pad) to the RGGB phase: padding would repeat pixels and their noise.
    top, left = (int(v[0]) for v in np.nonzero(plane_of_pixel(pattern) == 0))
    rggb = mosaic[top:, left:]
    rggb = rggb[: rggb.shape[0] // 2 * 2, : rggb.shape[1] // 2 * 2]
    if min(rggb.shape) < 2 * MIN_PLANE_SIZE:
        raise NoiseEstimateError(f"mosaic {mosaic.shape[0]}x{mosaic.shape[1]} is too small to estimate noise "
                                 f"(needs about {2 * MIN_PLANE_SIZE}x{2 * MIN_PLANE_SIZE} pixels or more); "
                                 f"{_ADVICE}")
    blocks = _flat_block_variances(pack_rggb(rggb), _clip_levels(rggb))
    fits = [_fit_plane(mean, var, PLANES[i]) for i, (mean, var, _) in enumerate(blocks)]
    detail = (f"blind: {2 * BLOCK}x{2 * BLOCK}-pixel flat blocks ({', '.join(str(len(m)) for m, _, _ in blocks)}), "
              f"q={QUANTILE} per signal bin, NNLS line")
    prior = [PLANES[i] for i, fit in enumerate(fits) if fit[2]]
    if prior:
        detail += f"; b from the DND a-b relation on {','.join(prior)} (too narrow a signal range)"
    passed, plane = min((n, i) for i, (_, _, n) in enumerate(blocks))
    if passed >= MIN_FLAT_BLOCKS:
        detail += "; confidence high"
    else:
        detail += (f"; confidence low: only {passed} blocks of {PLANES[plane]} pass the flatness tests, the "
                   f"flattest textured ones stand in and may raise the estimate ({_ADVICE} if known)")
    return NoiseProfile(tuple(fit[0] for fit in fits), tuple(fit[1] for fit in fits),  # type: ignore[arg-type]
                        source="estimate", detail=detail)


def _clip_levels(mosaic: np.ndarray) -> tuple[float, float]:
    """(low, high): pixels at or beyond these are clipped (±inf where the mosaic shows no clipping)."""
    lo, hi = float(mosaic.min()), float(mosaic.max())
    enough = CLIP_FRACTION * mosaic.size
    low = lo if np.count_nonzero(mosaic == lo) > enough else -np.inf
    high = hi if np.count_nonzero(mosaic == hi) > enough else np.inf
    return low, high


def _residual_bases() -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal (BLOCK², dof) bases of what a quadratic surface / a plane cannot fit in a block."""
    i, j = np.meshgrid(np.arange(BLOCK) - (BLOCK - 1) / 2.0, np.arange(BLOCK) - (BLOCK - 1) / 2.0, indexing="ij")
    bases = []
    for degree in (2, 1):
        columns = [i.ravel() ** p * j.ravel() ** q for p in range(degree + 1) for q in range(degree + 1 - p)]
        full, _ = np.linalg.qr(np.stack(columns, axis=1), mode="complete")
        bases.append(full[:, len(columns):])
    return bases[0], bases[1]


_AFTER_QUADRATIC, _AFTER_PLANE = _residual_bases()


def _block_residuals(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per plane and block: mean signal, the (…, DOF) residual coordinates, min and max pixel."""
    side = 2 * BLOCK
    bh, bw = planes.shape[1] // side, planes.shape[2] // side
    step = max(1, int(np.ceil(np.sqrt(bh * bw / MAX_BLOCKS))))
    px = planes[:, : bh * side, : bw * side].reshape(4, bh, side, bw, side)[:, ::step, :, ::step, :]
    px = px.transpose(0, 1, 3, 2, 4).reshape(4, -1, side, side).astype(np.float64)  # (plane, block, y, x)
    x00, x01, x10, x11 = px[..., 0::2, 0::2], px[..., 0::2, 1::2], px[..., 1::2, 0::2], px[..., 1::2, 1::2]
    cells = BLOCK * BLOCK
    maps = [(x00 + x01 + x10 + x11, _AFTER_QUADRATIC), (x00 - x01 + x10 - x11, _AFTER_PLANE),
            (x00 + x01 - x10 - x11, _AFTER_PLANE), (x00 - x01 - x10 + x11, _AFTER_PLANE)]
    residual = np.concatenate([0.5 * m.reshape(m.shape[:2] + (cells,)) @ basis for m, basis in maps], axis=-1)
    return px.mean(axis=(-2, -1)), residual, px.min(axis=(-2, -1)), px.max(axis=(-2, -1))


def _flat_block_variances(planes: np.ndarray,
                          clip: tuple[float, float]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """For each plane, (mean signal, noise variance) of the flattest blocks and how many passed the tests."""
    mean, res, low, high = _block_residuals(planes)
    d_c, d_d = _DOF_COARSE, _DOF_DETAIL

    def energy(part: slice) -> np.ndarray:
        return np.einsum("pbk,pbk->pb", res[..., part], res[..., part])

    total = np.maximum(energy(slice(None)), 1e-300)
    s_hh = np.maximum(energy(slice(-d_d, None)) / d_d, 1e-300)
    # How far each block is from passing all three tests (≤ 1 passes): a ratio per test, the worst counts.
    score = np.maximum(energy(slice(0, d_c)) / d_c / (_F_COARSE * s_hh),
                       energy(slice(d_c, d_c + 2 * d_d)) / (2 * d_d) / (_F_DETAIL * s_hh))
    np.maximum(score, _max_cross_correlation(res / np.sqrt(total)[..., None]) / _CORR_LIMIT, out=score)
    # Residuals at float rounding level: a noise-free block, flat but with zero variance.
    silent = total <= DOF * (SILENT_STD * (np.abs(mean) + 1e-3)) ** 2
    score[silent] = 0.0
    score[(low <= clip[0]) | (high >= clip[1])] = np.inf
    var = np.where(silent, 0.0, total / DOF)
    chosen = []
    for p in range(4):
        flat = np.flatnonzero(score[p] <= 1.0)
        if len(flat) < MIN_FLAT_BLOCKS:
            # Too textured for the tests: the flattest unclipped blocks stand in. Their scores, like
            # the tests, depend only on the residuals' directions, so pure noise keeps its χ² law.
            ranked = np.argsort(score[p], kind="stable")[:MIN_FLAT_BLOCKS]
            flat = np.sort(ranked[np.isfinite(score[p][ranked])])
        chosen.append((mean[p][flat], var[p][flat], int(np.count_nonzero(score[p] <= 1.0))))
    return chosen


def _max_cross_correlation(unit: np.ndarray) -> np.ndarray:
    """(4, blocks): each block's largest |correlation| with the same block of another plane.

    ``unit`` holds the (4, blocks, DOF) unit-length residuals; each pair of planes is computed once.
    """
    worst = np.zeros(unit.shape[:2], dtype=unit.dtype)
    for p, q in combinations(range(4), 2):
        corr = np.abs(np.einsum("bk,bk->b", unit[p], unit[q]))
        np.maximum(worst[p], corr, out=worst[p])
        np.maximum(worst[q], corr, out=worst[q])
    return worst


def _fit_plane(mean: np.ndarray, var: np.ndarray, name: str) -> tuple[float, float, bool]:
    """(a, b, b_from_prior) of one plane from its flat blocks."""
    if len(mean) < MIN_BLOCKS_PER_BIN:
        raise NoiseEstimateError(f"plane {name}: only {len(mean)} flat unclipped 8x8 blocks, too few to estimate "
                                 f"noise (image too small, too textured or mostly clipped); {_ADVICE}")
    model = None
    for _ in range(REBIN_ITERATIONS):
        x, v, n = _binned_variances(mean, var, model)
        if not np.any(v > 0):
            raise NoiseEstimateError(f"plane {name}: the flat areas show no noise (synthetic or already "
                                     f"denoised image?); {_ADVICE}")
        a, b, from_prior = _fit_line(x, v, n)
        model = (a, b)
    return a, b, from_prior


def _signal_bins(sorted_mean: np.ndarray) -> list[np.ndarray]:
    """Index ranges of consecutive (signal-sorted) blocks forming bins of equal count, narrow in signal."""
    count = len(sorted_mean)
    target = max(MIN_BLOCKS_PER_BIN, count // MAX_BINS)
    bins, start = [], 0
    while start < count:
        # A bin closes at its target count, at the end, or before the first block whose signal is
        # too far above the bin's first block (the means are sorted, so a binary search finds it).
        too_far = np.searchsorted(sorted_mean, (1 + BIN_SPAN) * max(sorted_mean[start], 0.0) + BIN_FLOOR, "right")
        end = min(start + target, count, int(too_far))
        if end - start >= MIN_BLOCKS_PER_BIN // 2:
            bins.append(np.arange(start, end))
        start = end
    return bins or [np.arange(count)]  # blocks too scattered for narrow bins: use one


def _binned_variances(mean: np.ndarray, var: np.ndarray,
                      model: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per signal bin: median signal, unbiased low-quantile noise variance there, block count.

    With a ``model`` (a, b), block variances are divided by the model at their own signal before
    the quantile is taken, and the result is scaled back at the bin's signal.
    """
    order = np.argsort(mean, kind="stable")
    if model is None:
        shape = np.ones_like(var)
    else:
        shape = model[0] * np.maximum(mean, 0.0) + model[1]
        shape = np.maximum(shape, 1e-2 * np.median(shape))
    xs, vs, ns = [], [], []
    for span in _signal_bins(mean[order]):
        idx = order[span]
        x = float(np.median(mean[idx]))
        at_x = 1.0 if model is None else max(model[0] * max(x, 0.0) + model[1], float(shape[idx].min()))
        xs.append(x)
        quantile = np.quantile(var[idx] / shape[idx], QUANTILE, method="weibull")
        vs.append(quantile / _expected_quantile(len(idx)) * at_x)
        ns.append(len(idx))
    return np.array(xs), np.array(vs), np.array(ns, dtype=np.float64)


def _fit_line(x: np.ndarray, v: np.ndarray, n: np.ndarray) -> tuple[float, float, bool]:
    """Fit ``v = a·x + b`` (a, b ≥ 0) to the bins, trimming bins far above the line; (a, b, b_from_prior)."""
    x = np.maximum(x, 0.0)
    v = np.maximum(v, v[v > 0].min())
    rel_std = _quantile_rel_std(n)
    design = np.stack([x, np.ones_like(x)], axis=1)
    keep = np.ones(len(x), dtype=bool)
    predicted = v
    for iteration in range(FIT_ITERATIONS):
        weight = 1.0 / (rel_std * predicted)
        coef, _ = nnls(design[keep] * weight[keep, None], v[keep] * weight[keep])
        predicted = np.maximum(design @ coef, 1e-3 * v.min())
        # Texture only adds variance: bins far above the line are texture, never noise.
        now = (v - predicted) <= TRIM_SIGMAS * rel_std * predicted
        if now.sum() < 1 or (np.array_equal(now, keep) and iteration >= 2):  # weights from the fit, not the data
            break
        keep = now
    a, b = float(coef[0]), float(coef[1])
    weighted = design[keep] * weight[keep, None]
    separable = np.linalg.matrix_rank(weighted) == 2
    if separable and np.sqrt(np.linalg.inv(weighted.T @ weighted)[0, 0]) <= MAX_SLOPE_REL_SE * a:
        return a, b, False
    # Too narrow a signal range to separate shot from read noise: fit a alone, b on the DND line.
    w, xk, vk = weight[keep], x[keep], v[keep]

    def loss(log_a: float) -> float:
        return float(np.sum((w * (vk - np.exp(log_a) * xk - log_linear_b(np.exp(log_a)))) ** 2))

    best = minimize_scalar(loss, bounds=(np.log(1e-9), 0.0), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(best.x)), float(log_linear_b(np.exp(best.x))), True


# χ²_DOF / DOF on a fine grid: the order statistics' means are integrated over x, where the
# integrand is smooth (in probability F⁻¹ is not, and quadrature there converges slowly).
_GRID = np.linspace(0.0, 4.0, 16_001)
_GRID_PDF = chi2.pdf(_GRID * DOF, DOF) * DOF
_GRID_CDF = chi2.cdf(_GRID * DOF, DOF)


@lru_cache(maxsize=None)
def _expected_quantile(count: int) -> float:
    """Expected sample ``QUANTILE`` (numpy's "weibull" rule) of ``count`` draws of ``χ²_DOF / DOF``.

    Dividing a bin's quantile by this makes it unbiased for pure noise at any bin size. The
    quantile interpolates order statistics k and k+1 at position ``QUANTILE·(count + 1)``; the
    j-th of n draws has density ``Beta(F(x); j, n − j + 1)·f(x)``, so its mean is the integral of
    ``x`` times that, by Simpson's rule on ``_GRID`` (accurate to about 1e-10; the Android core
    integrates the same way).
    """
    position = min(max(QUANTILE * (count + 1), 1.0), float(count))
    k = int(position)
    frac = position - k

    def order_statistic_mean(j: int) -> float:
        return float(simpson(_GRID * beta.pdf(_GRID_CDF, j, count - j + 1) * _GRID_PDF, x=_GRID))

    low = order_statistic_mean(k)
    return low if frac == 0 else (1 - frac) * low + frac * order_statistic_mean(k + 1)


def _quantile_rel_std(count: np.ndarray) -> np.ndarray:
    """Relative standard error of a bin's corrected quantile (asymptotic order-statistic variance)."""
    xi = chi2.ppf(QUANTILE, DOF)
    return np.sqrt(QUANTILE * (1 - QUANTILE) / count) / (chi2.pdf(xi, DOF) * xi)
