"""Clean scenes without a download, turned into RAW by "unprocessing" (noise: :mod:`training.noise_synthesis`).

Shared by training (on-the-fly pairs), the local benchmark (held-out seeds), export calibration
and the demo. Every generator takes a seed or a ``numpy.random.Generator``.

Unprocessing follows Brooks et al., "Unprocessing Images for Learned Raw Denoising" (CVPR 2019):
inverse tone curve, gamma expansion, inverse colour correction with a random blend of real
XYZ→camera matrices, inverse white balance that spares highlights, Bayer mosaicking. The matrices
and ranges below are the numbers that paper publishes.
"""
from __future__ import annotations

import numpy as np

from denoise.render import CameraParams

# XYZ→camera matrices of four real cameras and the sRGB(D65)→XYZ matrix (Brooks et al. 2019).
XYZ2CAMS = np.array([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
])
RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                    [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]])

def random_camera(rng: np.random.Generator, wide: bool = False) -> CameraParams:
    """A random blend of real colour matrices with white-balance and exposure gains.

    ``wide`` draws white-balance gains around 1 and exposures up to 4x brighter: un-white-balanced,
    bright, high-signal raw frames (tungsten light, over-exposed skies) that the Brooks et al. ranges
    never produce and that a model must still handle.
    """
    weights = rng.uniform(1e-8, 1e8, size=len(XYZ2CAMS))
    xyz2cam = np.tensordot(weights / weights.sum(), XYZ2CAMS, axes=1)
    rgb2cam = xyz2cam @ RGB2XYZ
    norm = rgb2cam.sum(axis=1, keepdims=True)
    rgb2cam = rgb2cam / norm
    if wide:
        red, blue = np.exp(rng.uniform(np.log(0.7), np.log(2.5), size=2))
        brightness = float(np.exp(-rng.uniform(np.log(0.8), np.log(4.0))))
    else:
        red, blue = rng.uniform(1.9, 2.4), rng.uniform(1.5, 1.9)
        brightness = float(1.0 / np.clip(rng.normal(0.8, 0.1), 0.5, 1.2))
    return CameraParams(rgb2cam=rgb2cam, xyz2cam=xyz2cam / norm, red_gain=float(red), blue_gain=float(blue),
                        brightness=brightness)


def unprocess(srgb: np.ndarray, cam: CameraParams) -> np.ndarray:
    """(H, W, 3) sRGB in [0, 1] → (H, W, 3) linear camera RGB in [0, 1] (before mosaicking)."""
    x = np.clip(srgb.astype(np.float64), 0.0, 1.0)
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)          # inverse smoothstep tone curve
    x = np.maximum(x, 1e-8) ** 2.2                              # gamma expansion
    x = x @ cam.rgb2cam.T                                       # inverse colour correction
    gains = np.array([1.0 / cam.red_gain, 1.0, 1.0 / cam.blue_gain]) / cam.brightness
    gray = x.mean(axis=-1, keepdims=True)
    mask = (np.maximum(gray - 0.9, 0.0) / 0.1) ** 2             # keep highlights from being dimmed
    safe = np.maximum(mask + (1.0 - mask) * gains, gains)
    return np.clip(x * safe, 0.0, 1.0).astype(np.float32)


def mosaic_rggb(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) with even H, W → (H, W) RGGB Bayer mosaic."""
    h, w = rgb.shape[:2]
    out = np.empty((h, w), dtype=rgb.dtype)
    out[0::2, 0::2] = rgb[0::2, 0::2, 0]
    out[0::2, 1::2] = rgb[0::2, 1::2, 1]
    out[1::2, 0::2] = rgb[1::2, 0::2, 1]
    out[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return out


# ---------------------------------------------------------------------------------------------
# Procedural clean scenes


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    # Mostly muted colours with occasional saturated ones, like natural images.
    base = rng.uniform(0.0, 1.0) ** 1.5
    return np.clip(base + rng.normal(0.0, 0.25 * rng.uniform(0.2, 1.0), size=3), 0.0, 1.0)


def _shape_mask(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    kind = rng.integers(0, 3)
    if kind == 0:  # disc
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    theta = rng.uniform(0, np.pi)
    c, s = np.cos(theta), np.sin(theta)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    if kind == 1:  # rotated rectangle
        return (np.abs(u) <= r) & (np.abs(v) <= r * rng.uniform(0.2, 1.0))
    return (u / r) ** 2 + (v / (r * rng.uniform(0.15, 1.0))) ** 2 <= 1.0  # ellipse


def dead_leaves(size: int, rng: np.random.Generator, rmin: float = 2.0, rmax: float | None = None,
                n_shapes: int | None = None) -> np.ndarray:
    """Occluding random shapes with a power-law size distribution (scale-invariant, like photos)."""
    rmax = rmax or size / 3.0
    img = np.empty((size, size, 3), dtype=np.float32)
    img[:] = _random_colour(rng)
    n_shapes = n_shapes or int(size * size / 150)
    # Radii ~ r^-3 (inverse-CDF sampling between rmin and rmax), drawn back-to-front.
    u = rng.uniform(size=n_shapes)
    radii = (rmin ** -2 - u * (rmin ** -2 - rmax ** -2)) ** -0.5
    for r in radii[np.argsort(-radii)]:
        cy, cx = rng.uniform(-r, size + r, size=2)
        y0, y1 = int(max(cy - r, 0)), int(min(cy + r + 1, size))
        x0, x1 = int(max(cx - r, 0)), int(min(cx + r + 1, size))
        if y1 <= y0 or x1 <= x0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        mask = _shape_mask(rng, yy, xx, cy, cx, r)
        colour = _random_colour(rng)
        if rng.uniform() < 0.3:  # shading inside the shape
            g = rng.normal(0, 0.4 / max(r, 1.0), size=2)
            shade = 1.0 + g[0] * (yy - cy) + g[1] * (xx - cx)
            patch = np.clip(colour[None, None, :] * shade[..., None], 0, 1)
        else:
            patch = np.broadcast_to(colour, mask.shape + (3,))
        img[y0:y1, x0:x1][mask] = patch[mask]
    return img


def _add_gradient(img: np.ndarray, rng: np.random.Generator) -> None:
    size = img.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(theta) * xx + np.sin(theta) * yy
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    c0, c1 = _random_colour(rng), _random_colour(rng)
    grad = c0 + (c1 - c0) * ramp[..., None]
    alpha = rng.uniform(0.3, 1.0)
    img[:] = (1 - alpha) * img + alpha * grad


def _add_lines_and_text(img: np.ndarray, rng: np.random.Generator) -> None:
    """Thin straight lines, stripe gratings and glyph-like strokes: the fine detail denoisers blur."""
    size = img.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for _ in range(rng.integers(1, 6)):
        theta = rng.uniform(0, np.pi)
        d = np.cos(theta) * (xx - rng.uniform(0, size)) + np.sin(theta) * (yy - rng.uniform(0, size))
        width = rng.uniform(0.5, 2.5)
        mask = np.clip(width / 2 + 0.5 - np.abs(d), 0, 1)[..., None]
        img[:] = img * (1 - mask) + _random_colour(rng) * mask
    if rng.uniform() < 0.5:  # a grating patch (aliasing-prone frequencies)
        y0, x0 = rng.integers(0, size // 2, size=2)
        h, w = rng.integers(size // 8, size // 2, size=2)
        period = rng.uniform(2.5, 8.0)
        theta = rng.uniform(0, np.pi)
        d = np.cos(theta) * xx[y0:y0 + h, x0:x0 + w] + np.sin(theta) * yy[y0:y0 + h, x0:x0 + w]
        wave = (0.5 + 0.5 * np.sin(2 * np.pi * d / period))[..., None]
        c0, c1 = _random_colour(rng), _random_colour(rng)
        img[y0:y0 + h, x0:x0 + w] = c0 + (c1 - c0) * wave
    for _ in range(rng.integers(0, 4)):  # a "word": row of small glyphs made of strokes
        gh = int(rng.integers(5, 16))
        n = int(rng.integers(3, 10))
        y0 = int(rng.integers(0, max(size - gh, 1)))
        x = int(rng.integers(0, size // 2))
        colour = _random_colour(rng)
        t = max(1, gh // 6)
        for _g in range(n):
            gw = int(gh * rng.uniform(0.4, 0.8))
            if x + gw >= size:
                break
            for _s in range(rng.integers(2, 5)):
                if rng.uniform() < 0.5:
                    yy0 = y0 + int(rng.integers(0, gh - t + 1))
                    img[yy0:yy0 + t, x:x + gw] = colour
                else:
                    xx0 = x + int(rng.integers(0, gw - t + 1))
                    img[y0:y0 + gh, xx0:xx0 + t] = colour
            x += gw + max(1, gh // 4)


def procedural_scene(size: int, seed: int | np.random.Generator) -> np.ndarray:
    """A (size, size, 3) sRGB scene in [0, 1]: dead leaves, gradients, lines, gratings, glyphs."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    img = dead_leaves(size, rng)
    if rng.uniform() < 0.5:
        _add_gradient(img, rng)
    _add_lines_and_text(img, rng)
    if rng.uniform() < 0.3:  # defocus part of the scene: smooth areas matter as much as edges
        from scipy.ndimage import gaussian_filter
        img = gaussian_filter(img, sigma=(rng.uniform(0.5, 3.0),) * 2 + (0,))
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def clean_raw(srgb: np.ndarray, rng: np.random.Generator, wide: bool = False) -> tuple[np.ndarray, CameraParams]:
    """sRGB (even H, W) → clean RGGB mosaic in [0, 1] and the camera that 'took' it (see :func:`random_camera`)."""
    cam = random_camera(rng, wide)
    return mosaic_rggb(unprocess(srgb, cam)), cam


# Seeds: training draws procedural scenes from [0, EVAL_SEED_BASE); the local benchmark and any
# held-out validation use seeds from EVAL_SEED_BASE upwards, so test scenes are never trained on.
EVAL_SEED_BASE = 1_000_000_000
VALIDATION_SEED_BASE = 2_000_000_000
