"""The local DND-like benchmark: held-out clean RAW scenes with ground truth and fixed noise.

The first eight scenes alternate between procedural scenes drawn from seeds ``EVAL_SEED_BASE + k``
(training never draws from there) and photographs shipped inside scikit-image. Then come four
groups that training never saw:

- ``photo:NAME`` — the held-out ``bench`` photographs of :mod:`training.photos` (fetched into the
  cache by ``python -m training.photos fetch``), down-sampled so the crop shows a whole scene;
- ``bright:K`` — procedural scenes from an un-white-balanced camera (red, green and blue at similar
  levels), exposed to a mean of about 0.35: high-signal frames;
- ``sensor:K`` — procedural scenes and photographs whose noise carries what real sensors add to
  Poisson–Gaussian noise (heavy tails, row and column noise, black bias, quantization);

and after them more procedural scenes. Each scene is centre-cropped to a square, unprocessed to
RAW with its own recorded camera, and noised at the fixed :data:`BENCH_LEVELS` (or any shot terms
given). Every random choice is seeded from the scene's position and the noise level, so the same
request gives bit-identical arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from denoise.cfa import pack_rggb
from denoise.noise import NoiseProfile, log_linear_b
from training.photos import PHOTOS, SKIMAGE_BENCH as SKIMAGE_PHOTOS
from training.noise_synthesis import add_noise
from training.synth import EVAL_SEED_BASE, CameraParams, mosaic_rggb, procedural_scene, random_camera, unprocess

BENCH_SIZE = 512
# Shot terms of the benchmark levels: log-spaced over the range phones and DND cover.
BENCH_A = tuple(float(a) for a in np.geomspace(1e-4, 2e-2, 5))
BENCH_PHOTOS = tuple(p.name for p in PHOTOS if p.split == "bench")
GROUPS = {"procedural": "procedural", "skimage": "photographs", "photo": "photographs", "bright": "bright un-WB",
          "sensor": "real-sensor noise"}
N_BRIGHT = N_SENSOR = 4
_CAMERA_STREAM, _NOISE_STREAM, _SENSOR_STREAM = 1, 2, 3


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

    @property
    def group(self) -> str:
        return scene_group(self.name)

    def noisy(self, profile: NoiseProfile) -> np.ndarray:
        """The scene's fixed noisy planes at ``profile`` (seeded by scene and noise level)."""
        level_bits = [int(np.float64(v).view(np.uint64)) for v in profile.a + profile.b]
        rng = np.random.default_rng([self.seed, _NOISE_STREAM, *level_bits])
        if self.name.startswith("sensor:"):
            return _real_sensor_noisy(self.clean, profile, np.random.default_rng([self.seed, _SENSOR_STREAM, *level_bits]))
        return add_noise(self.clean, profile, rng)

    def describe(self) -> dict:
        return {"name": self.name, "position": self.position, "seed": self.seed,
                "size": 2 * self.clean.shape[-1], "camera": self.camera.to_json()}


def scene_group(name: str) -> str:
    """The report group of a benchmark scene name (procedural, photographs, bright un-WB, real-sensor noise)."""
    return GROUPS.get(name.partition(":")[0], "other")


def _real_sensor_noisy(clean: np.ndarray, profile: NoiseProfile, rng: np.random.Generator) -> np.ndarray:
    """Shot noise plus the read-side components of a real sensor (the training synthesis's own model)."""
    import torch

    from training.noise_synthesis import real_sensor_noise

    a = np.asarray(profile.a, dtype=np.float64)[:, None, None]
    shot = torch.from_numpy(rng.poisson(np.maximum(clean.astype(np.float64), 0.0) / a) * a)
    return real_sensor_noise(shot, float(profile.a[0]), float(profile.b[0]), rng).numpy().astype(np.float32)


def scene_names(n: int) -> list[str]:
    """The first ``n`` scenes of the benchmark order (see the module docstring)."""
    if n < 1:
        raise BenchSetError(f"the benchmark needs at least 1 scene, got {n}")
    names: list[str] = []
    procedural = 0
    photos = iter(SKIMAGE_PHOTOS)
    while len(names) < 2 * len(SKIMAGE_PHOTOS):
        photo = next(photos) if len(names) % 2 else None
        if photo is None:
            names.append(f"procedural:{procedural}")
            procedural += 1
        else:
            names.append(f"skimage:{photo}")
    names += [f"photo:{p}" for p in BENCH_PHOTOS]
    names += [f"bright:{k}" for k in range(N_BRIGHT)] + [f"sensor:{k}" for k in range(N_SENSOR)]
    while len(names) < n:
        names.append(f"procedural:{procedural}")
        procedural += 1
    return names[:n]


def _catalogue_photo_srgb(name: str, size: int) -> np.ndarray:
    """Centre square of a held-out catalogue photograph, down-sampled (area filter) to twice ``size`` first
    (up-sampled to ``size`` if it is smaller)."""
    from PIL import Image

    from training.photos import photo_path

    try:
        path = photo_path(name)
    except KeyError as err:
        raise BenchSetError(f"unknown benchmark photograph: {err.args[0]}") from None
    except FileNotFoundError as err:
        raise BenchSetError(f"benchmark photograph {name!r}: {err}") from None
    with Image.open(path) as im:
        img = im.convert("RGB")
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    target = max(size, min(side, 2 * size))
    img = img.resize((target, target), Image.Resampling.BOX, box=(left, top, left + side, top + side))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    off = (target - size) // 2
    return arr[off:off + size, off:off + size]


def _bright_unbalanced(srgb: np.ndarray, camera: CameraParams) -> np.ndarray:
    """Linear camera RGB without the inverse white balance (R, G and B at similar levels), mean 0.35."""
    flat = CameraParams(camera.rgb2cam, camera.xyz2cam, 1.0, 1.0, 1.0)
    linear = unprocess(srgb, flat).astype(np.float64)
    return np.clip(linear * (0.35 / max(float(linear.mean()), 1e-6)), 0.0, 1.0).astype(np.float32)


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
    """Build scene ``name`` (``procedural:K``, ``skimage:NAME``, ``photo:NAME``, ``bright:K`` or ``sensor:K``)."""
    if size < 8 or size % 2:
        raise BenchSetError(f"benchmark crop size must be an even number >= 8, got {size}")
    kind, _, ident = name.partition(":")
    camera = random_camera(np.random.default_rng([EVAL_SEED_BASE + position, _CAMERA_STREAM]))
    if kind == "procedural" and ident.isdigit():
        srgb = procedural_scene(size, EVAL_SEED_BASE + int(ident))
    elif kind == "skimage" and ident:
        srgb = _photo_srgb(ident, size)
    elif kind == "photo" and ident:
        srgb = _catalogue_photo_srgb(ident, size)
    elif kind == "bright" and ident.isdigit():
        linear = _bright_unbalanced(procedural_scene(size, EVAL_SEED_BASE + 500 + int(ident)), camera)
        clean = pack_rggb(mosaic_rggb(linear))
        return BenchScene(name=name, position=position, clean=np.ascontiguousarray(clean),
                          camera=CameraParams(camera.rgb2cam, camera.xyz2cam, 1.0, 1.0, 1.0))
    elif kind == "sensor" and ident.isdigit():
        k = int(ident)
        srgb = (_catalogue_photo_srgb(BENCH_PHOTOS[-1 - k // 2], size) if k % 2
                else procedural_scene(size, EVAL_SEED_BASE + 600 + k))
    else:
        raise BenchSetError(f"unknown benchmark scene {name!r}; use 'procedural:K', 'skimage:NAME', 'photo:NAME', "
                            "'bright:K' or 'sensor:K'")
    clean = pack_rggb(mosaic_rggb(unprocess(srgb, camera)))
    return BenchScene(name=name, position=position, clean=np.ascontiguousarray(clean), camera=camera)


def bench_scenes(n: int, size: int = BENCH_SIZE) -> list[BenchScene]:
    """The first ``n`` benchmark scenes at ``size``×``size`` Bayer pixels."""
    return [load_scene(name, i, size) for i, name in enumerate(scene_names(n))]
