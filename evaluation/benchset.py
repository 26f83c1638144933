"""The local DND-like benchmark: held-out clean RAW scenes with ground truth and fixed noise.

Scenes alternate between procedural scenes drawn from seeds ``EVAL_SEED_BASE + k`` (training
never draws from there) and photographs shipped inside scikit-image (located through the
package at run time, never copied into this repository). Each is centre-cropped to a square,
unprocessed to RAW with its own recorded camera, and noised at the fixed :data:`BENCH_LEVELS`
(or any shot terms given) with Poisson–Gaussian noise. Every random choice is seeded from the
scene's position and the noise level, so the same request gives bit-identical arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from denoise.cfa import pack_rggb
from denoise.noise import NoiseProfile, log_linear_b
from training.synth import (EVAL_SEED_BASE, CameraParams, add_noise, mosaic_rggb, procedural_scene, random_camera,
                     unprocess)

BENCH_SIZE = 512
# Shot terms of the benchmark levels: log-spaced over the range phones and DND cover.
BENCH_A = tuple(float(a) for a in np.geomspace(1e-4, 2e-2, 5))
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
_CAMERA_STREAM, _NOISE_STREAM = 1, 2


class BenchSetError(ValueError):
    """A benchmark request that cannot be built (bad size, count, level or missing photo)."""


def bench_level(a: float) -> NoiseProfile:
    """The benchmark noise at shot term ``a``: read term on the DND-fitted line, no jitter."""
    if not a > 0:
        raise BenchSetError(f"benchmark noise level a must be > 0, got {a}")
    return NoiseProfile.uniform(float(a), float(log_linear_b(a)), source="synthetic")


BENCH_LEVELS = tuple(bench_level(a) for a in BENCH_A)


@dataclass(frozen=True)
class BenchScene:
    """One ground-truth scene: clean packed RGGB planes and the camera that renders them to sRGB."""

    name: str
    position: int            # index in the benchmark's scene order; seeds derive from it
    clean: np.ndarray        # (4, size/2, size/2) float32 packed planes in [0, 1]
    camera: CameraParams

    @property
    def seed(self) -> int:
        return EVAL_SEED_BASE + self.position

    def noisy(self, profile: NoiseProfile) -> np.ndarray:
        """The scene's fixed noisy planes at ``profile`` (seeded by scene and noise level)."""
        level_bits = [int(np.float64(v).view(np.uint64)) for v in profile.a + profile.b]
        rng = np.random.default_rng([self.seed, _NOISE_STREAM, *level_bits])
        return add_noise(self.clean, profile, rng)

    def describe(self) -> dict:
        return {"name": self.name, "position": self.position, "seed": self.seed,
                "size": 2 * self.clean.shape[-1], "camera": self.camera.to_json()}


def scene_names(n: int) -> list[str]:
    """The first ``n`` scenes of the benchmark order: procedural and photographs alternating."""
    if n < 1:
        raise BenchSetError(f"the benchmark needs at least 1 scene, got {n}")
    names: list[str] = []
    procedural = 0
    photos = iter(SKIMAGE_PHOTOS)
    while len(names) < n:
        photo = next(photos, None) if len(names) % 2 else None
        if photo is None:
            names.append(f"procedural:{procedural}")
            procedural += 1
        else:
            names.append(f"skimage:{photo}")
    return names


def _photo_srgb(name: str, size: int) -> np.ndarray:
    """Centre square of a scikit-image photo, upscaled (bicubic) first if it is smaller than ``size``."""
    import skimage.data
    from skimage.transform import rescale

    loader = getattr(skimage.data, name, None)
    if loader is None:
        raise BenchSetError(f"scikit-image has no sample image {name!r}; reinstall scikit-image")
    try:
        img = np.asarray(loader(), dtype=np.float32)[..., :3] / 255.0
    except (OSError, ValueError) as err:
        raise BenchSetError(f"scikit-image sample {name!r} cannot be loaded ({err}); reinstall scikit-image "
                            "with its bundled data") from None
    short = min(img.shape[:2])
    if short < size:
        img = np.clip(rescale(img, size / short, order=3, channel_axis=-1), 0.0, 1.0)
    h, w = img.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return img[top:top + size, left:left + size]


def load_scene(name: str, position: int, size: int = BENCH_SIZE) -> BenchScene:
    """Build scene ``name`` (``procedural:K`` or ``skimage:NAME``) at benchmark ``position``."""
    if size < 8 or size % 2:
        raise BenchSetError(f"benchmark crop size must be an even number >= 8, got {size}")
    kind, _, ident = name.partition(":")
    if kind == "procedural" and ident.isdigit():
        srgb = procedural_scene(size, EVAL_SEED_BASE + int(ident))
    elif kind == "skimage" and ident:
        srgb = _photo_srgb(ident, size)
    else:
        raise BenchSetError(f"unknown benchmark scene {name!r}; use 'procedural:K' or 'skimage:NAME'")
    camera = random_camera(np.random.default_rng([EVAL_SEED_BASE + position, _CAMERA_STREAM]))
    clean = pack_rggb(mosaic_rggb(unprocess(srgb, camera)))
    return BenchScene(name=name, position=position, clean=np.ascontiguousarray(clean), camera=camera)


def bench_scenes(n: int, size: int = BENCH_SIZE) -> list[BenchScene]:
    """The first ``n`` benchmark scenes at ``size``×``size`` Bayer pixels."""
    return [load_scene(name, i, size) for i, name in enumerate(scene_names(n))]
