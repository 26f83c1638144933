"""Paired (noisy, clean, noise) batches made on the fly from a pool of clean RAW patches.

The expensive part — drawing clean scenes and unprocessing them to RAW — happens once per pool and
is cached on disk; every training step then crops, flips (keeping the Bayer phase), samples a noise
level from the prior and adds sensor noise. Batch ``k`` is a pure function of ``(seed, k, rank)``,
so a resumed run sees exactly the batches it would have seen without the interruption.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

from denoise.cfa import pack_rggb
from denoise.noise import log_linear_b

from . import synth
from .noise_synthesis import NoisePrior, add_sensor_noise, poisson_gaussian_batch
from .photos import DEFAULT_CACHE as DEFAULT_PHOTO_CACHE

SRGB_EXTENSIONS = (".png", ".jpg", ".jpeg")


# ---------------------------------------------------------------------------------------------
# Clean pools


@dataclass(frozen=True)
class PoolSpec:
    """Which clean sources fill the pool: procedural scenes, catalogued photographs, sRGB and RAW files.

    ``photo_crops`` crops are cut from every photograph of the catalogue's ``photo_split``
    (:mod:`training.photos`), each from a region ``s`` times the crop size, down-sampled by ``s`` with an
    area filter (``s`` log-uniform in ``photo_scale``): multi-scale content, and JPEG and demosaicing
    traces averaged away before unprocessing. ``wide_camera`` is the fraction of crops (of every source)
    unprocessed with un-white-balanced, brighter cameras (:func:`training.synth.random_camera`).
    sRGB and RAW entries are paths or ``package:NAME/path`` (inside an installed package, e.g.
    ``package:skimage/data/brick.png``); photos the local benchmark scores on are always skipped.
    """

    procedural: int = 2000
    size: int = 256
    seed: int = 0
    srgb_dirs: tuple[str, ...] = ()
    srgb_per_image: int = 4
    raw_dirs: tuple[str, ...] = ()
    raw_per_image: int = 8
    photo_split: str | None = None
    photo_crops: int = 0
    photo_scale: tuple[float, float] = (1.5, 4.0)
    photo_cache: str = str(DEFAULT_PHOTO_CACHE)
    wide_camera: float = 0.0

    def key(self) -> str:
        """Hash of the fields that change the pool (new fields at their defaults keep old keys valid)."""
        fields = {k: v for k, v in self.__dict__.items()
                  if k != "photo_cache" and (k not in _KEY_DEFAULTS or v != _KEY_DEFAULTS[k])}
        if self.photo_split and self.photo_crops:  # the catalogue's files, not only its split's name
            from .photos import PHOTOS

            fields["photo_files"] = [p.path for p in PHOTOS if p.split == self.photo_split]
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()[:16]


# Fields added after pools were first cached: left out of the key while at their defaults.
_KEY_DEFAULTS = {f.name: f.default for f in dataclasses.fields(PoolSpec)
                 if f.name in ("photo_split", "photo_crops", "photo_scale", "wide_camera")}


def _procedural_patch(args: tuple[int, int, float]) -> np.ndarray:
    seed, size, wide = args
    rng = np.random.default_rng(seed)
    scene = synth.procedural_scene(size, rng)
    # the wide-camera draw comes from its own stream, so wide = 0 reproduces the original pool
    mosaic, _ = synth.clean_raw(scene, rng, bool(wide and np.random.default_rng([seed, 1]).uniform() < wide))
    return mosaic.astype(np.float16)


def _photo_patches(args: tuple[str, int, int, tuple[float, float], float, int]) -> list[np.ndarray]:
    """``count`` multi-scale crops of one photograph, each down-sampled by its scale, then unprocessed."""
    from PIL import Image

    path, size, count, (lo, hi), wide, seed = args
    rng = np.random.default_rng(seed)
    with Image.open(path) as im:
        img = im.convert("RGB")
    w, h = img.size
    out = []
    for _ in range(count):
        side = int(min(size * float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), w, h))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crop = img.resize((size, size), Image.Resampling.BOX, box=(x, y, x + side, y + side))
        arr = np.asarray(crop, dtype=np.float32) / 255.0
        if rng.uniform() < 0.5:
            arr = arr[:, ::-1]
        out.append(synth.clean_raw(np.ascontiguousarray(arr), rng, bool(rng.uniform() < wide))[0].astype(np.float16))
    return out


def _source_path(entry: str) -> Path:
    """A folder or file; ``package:NAME/sub/path`` is a path inside an installed Python package."""
    if entry.startswith("package:"):
        import importlib.util

        name, _, rest = entry[len("package:"):].partition("/")
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"{entry}: no installed package {name!r}")
        return Path(list(spec.submodule_search_locations)[0]) / rest
    return Path(entry)


def _files(sources: Iterable[str], extensions: Sequence[str]) -> list[Path]:
    """Image files of folders (recursively) and single files; the benchmark's photos are never returned."""
    from .photos import SKIMAGE_BENCH

    out: list[Path] = []
    for entry in sources:
        root = _source_path(entry)
        if root.is_file():
            found = [root]
        elif root.is_dir():
            found = sorted(p for p in root.rglob("*") if p.suffix.lower() in extensions)
        else:
            raise FileNotFoundError(f"{root}: clean-source folder or file does not exist")
        out += [p for p in found if p.stem not in SKIMAGE_BENCH]  # held out for `denoise eval synth`
    return out


def _srgb_patches(path: Path, size: int, count: int, seed: int) -> list[np.ndarray]:
    """Random crops of an sRGB image (decoded by torchvision), unprocessed to RAW."""
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms import v2

    img = decode_image(str(path), mode=ImageReadMode.RGB)
    if min(img.shape[-2:]) < size:
        img = v2.functional.resize(img, size, antialias=True)
    torch.manual_seed(seed)
    crop = v2.Compose([v2.RandomCrop(size), v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True)])
    rng = np.random.default_rng(seed)
    return [synth.clean_raw(crop(img).permute(1, 2, 0).numpy(), rng)[0].astype(np.float16) for _ in range(count)]


def _raw_patches(path: Path, size: int, count: int, seed: int) -> list[np.ndarray]:
    """Random even-offset crops of a low-ISO RAW file used as clean ground truth."""
    from denoise.cfa import to_rggb
    from denoise.raw import read_raw

    raw = read_raw(path)
    mosaic, _ = to_rggb(raw.mosaic, raw.pattern)
    h, w = mosaic.shape
    if h < size or w < size:
        return []
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        y = 2 * int(rng.integers(0, (h - size) // 2 + 1))
        x = 2 * int(rng.integers(0, (w - size) // 2 + 1))
        out.append(np.clip(mosaic[y:y + size, x:x + size], 0, 1).astype(np.float16))
    return out


def build_pool(spec: PoolSpec, cache_dir: str | os.PathLike | None = None, workers: int = 2,
               progress: bool = True) -> np.ndarray:
    """(N, size, size) float16 clean RGGB mosaics; cached as ``pool-<key>.npy`` in ``cache_dir``.

    ``workers`` ≤ 0 uses every CPU core.
    """
    cache = Path(cache_dir) / f"pool-{spec.key()}.npy" if cache_dir else None
    if cache is not None and cache.is_file():
        return np.load(cache, mmap_mode="r")
    from tqdm import tqdm

    workers = workers if workers > 0 else os.cpu_count() or 1
    jobs = [(spec.seed * 1_000_003 + i, spec.size, spec.wide_camera) for i in range(spec.procedural)]
    photo_jobs = []
    if spec.photo_split and spec.photo_crops:
        from .photos import photo_paths

        photo_jobs = [(str(p), spec.size, spec.photo_crops, tuple(spec.photo_scale), spec.wide_camera,
                       spec.seed * 7_919 + 17 * i + 3) for i, p in enumerate(photo_paths(spec.photo_split, spec.photo_cache))]
    patches: list[np.ndarray] = []
    if workers > 1 and len(jobs) + len(photo_jobs) > 8:
        with ProcessPoolExecutor(workers) as pool:
            patches += list(tqdm(pool.map(_procedural_patch, jobs, chunksize=16), total=len(jobs),
                                 desc="clean scenes", disable=not progress))
            for crops in tqdm(pool.map(_photo_patches, photo_jobs), total=len(photo_jobs), desc="photographs",
                              disable=not progress):
                patches += crops
    else:
        patches += [_procedural_patch(j) for j in tqdm(jobs, desc="clean scenes", disable=not progress)]
        for j in photo_jobs:
            patches += _photo_patches(j)
    for i, path in enumerate(_files(spec.srgb_dirs, SRGB_EXTENSIONS)):
        patches += _srgb_patches(path, spec.size, spec.srgb_per_image, spec.seed + i)
    if spec.raw_dirs:
        from denoise.raw import RAW_EXTENSIONS

        for i, path in enumerate(_files(spec.raw_dirs, RAW_EXTENSIONS)):
            patches += _raw_patches(path, spec.size, spec.raw_per_image, spec.seed + i)
    if not patches:
        raise ValueError("the clean pool is empty: give procedural > 0 or folders with images")
    arr = np.stack(patches)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, cache)
    return arr


# ---------------------------------------------------------------------------------------------
# Bayer-aware augmentation and batches


def bayer_augment(mosaic: np.ndarray, patch: int, rng: np.random.Generator) -> np.ndarray:
    """Random even-offset crop with flips/transpose that keep the RGGB phase.

    A horizontal flip turns RGGB into GRBG, so the crop takes one extra column and drops the first
    after flipping; likewise vertically. A transpose keeps R and B on the diagonal (RGGB stays RGGB).
    """
    h, w = mosaic.shape
    need = patch + 2
    y = 2 * int(rng.integers(0, (h - need) // 2 + 1))
    x = 2 * int(rng.integers(0, (w - need) // 2 + 1))
    crop = mosaic[y:y + need, x:x + need]
    flip_v, flip_h, transpose = rng.integers(0, 2, size=3)
    if flip_v:
        crop = crop[::-1]
    if flip_h:
        crop = crop[:, ::-1]
    crop = crop[flip_v:flip_v + patch, flip_h:flip_h + patch]
    if transpose:
        crop = crop.T
    return np.ascontiguousarray(crop)


class PairSampler:
    """Batch ``k`` = (noisy, clean, noise) as a pure function of (seed, k, rank)."""

    def __init__(self, pool: np.ndarray, prior: NoisePrior, batch: int, patch: int, seed: int, rank: int = 0) -> None:
        if pool.shape[-1] < patch + 2:
            raise ValueError(f"pool patches ({pool.shape[-1]} px) are too small for {patch} px crops")
        self.pool, self.prior, self.batch, self.patch, self.seed, self.rank = pool, prior, batch, patch, seed, rank

    def with_seed(self, seed: int) -> "PairSampler":
        """The same pool, prior and batch shape; another batch stream."""
        return PairSampler(self.pool, self.prior, self.batch, self.patch, seed, self.rank)

    def batch_at(self, step: int) -> tuple[Tensor, Tensor, Tensor]:
        rng = np.random.default_rng([self.seed, step, self.rank])
        idx = rng.integers(0, len(self.pool), size=self.batch)
        mosaics = np.stack([bayer_augment(np.asarray(self.pool[i], dtype=np.float32), self.patch, rng) for i in idx])
        clean = torch.from_numpy(pack_rggb(mosaics))
        noise = torch.from_numpy(self.prior.sample(rng, self.batch))
        noisy = add_sensor_noise(clean, noise, self.prior, rng)
        return noisy, clean, self.prior.jitter(noise, rng)


def _mix_seed(*parts: int) -> int:
    """One 63-bit generator seed from (seed, step, rank): torch generators take a single integer."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0] >> np.uint64(1))


class DevicePairSampler:
    """:class:`PairSampler`'s job done entirely on the training device (pool held in its memory).

    On a GPU the host-side sampler (numpy crops, float64 Poisson draws) cannot keep up with a small
    student; here crops, phase-keeping flips/transposes, packing and the Poisson–Gaussian noise are
    batched tensor ops. Same distribution and the same (seed, step, rank) determinism on a given
    device type, but a different random stream from :class:`PairSampler`. The real-sensor extras of
    :class:`NoisePrior` are host-only; asking for them here is an error rather than silently dropped.
    """

    def __init__(self, pool: np.ndarray, prior: NoisePrior, batch: int, patch: int, seed: int, rank: int = 0,
                 device: torch.device | str = "cpu") -> None:
        if pool.shape[-1] < patch + 2 or patch % 2:
            raise ValueError(f"pool patches ({pool.shape[-1]} px) are too small for {patch} px crops (even sizes)")
        if (prior.row_noise or prior.tukey_lambda is not None or prior.quantization or prior.clip_black or prior.plane_jitter
                or prior.camera_profiles or prior.real_sensor or prior.level_jitter):
            raise ValueError("the device sampler draws plain Poisson–Gaussian noise; use data.sampler: host "
                             "for row noise, heavy tails, quantization, clipping, per-plane jitter, camera profiles, "
                             "real-sensor components or level jitter")
        self.device = torch.device(device)
        self.pool = torch.from_numpy(np.array(pool)).to(self.device)
        self.prior, self.batch, self.patch, self.seed, self.rank = prior, batch, patch, seed, rank

    def with_seed(self, seed: int) -> "DevicePairSampler":
        """The same (already uploaded) pool, prior and batch shape; another batch stream."""
        other = copy.copy(self)
        other.seed = seed
        return other

    def batch_at(self, step: int) -> tuple[Tensor, Tensor, Tensor]:
        dev, n, p = self.device, self.batch, self.patch
        gen = torch.Generator(dev).manual_seed(_mix_seed(self.seed, step, self.rank))
        count, size = self.pool.shape[0], self.pool.shape[-1]
        idx = torch.randint(0, count, (n,), generator=gen, device=dev)
        half = (size - p - 2) // 2 + 1
        y = 2 * torch.randint(0, half, (n, 1), generator=gen, device=dev)
        x = 2 * torch.randint(0, half, (n, 1), generator=gen, device=dev)
        flip_v, flip_h, transpose = (torch.rand(3, n, 1, generator=gen, device=dev) < 0.5).unbind(0)
        j = torch.arange(p, device=dev)[None]
        # A flip maps offset j to patch − j inside the (patch + 2)-pixel window: even rows stay even, so RGGB stays RGGB.
        rows = torch.where(flip_v, y + p - j, y + j)
        cols = torch.where(flip_h, x + p - j, x + j)
        t = transpose[:, :, None]  # a transpose reads pixel (i, j) from (rows[j], cols[i]): R and B stay on the diagonal
        r_idx = torch.where(t, rows[:, None, :], rows[:, :, None])
        c_idx = torch.where(t, cols[:, :, None], cols[:, None, :])
        mosaic = self.pool[idx[:, None, None], r_idx, c_idx].float()
        clean = torch.stack([mosaic[:, 0::2, 0::2], mosaic[:, 0::2, 1::2], mosaic[:, 1::2, 0::2], mosaic[:, 1::2, 1::2]], 1)
        noisy, noise = poisson_gaussian_batch(clean, self.prior, gen)
        return noisy, clean, noise


def validation_set(levels: Sequence[float], n_scenes: int = 6, patch: int = 128, seed: int = 0, photos: int = 0,
                   photo_cache: str | os.PathLike = DEFAULT_PHOTO_CACHE) -> list[tuple[float, Tensor, Tensor, Tensor]]:
    """Fixed held-out (level, noisy, clean, noise) batches, never trained on.

    ``n_scenes`` procedural scenes from validation seeds, plus ``photos`` crops (spread evenly) of the
    catalogue's held-out ``val`` photographs, down-sampled by 2 like the training crops.
    """
    rng = np.random.default_rng([synth.VALIDATION_SEED_BASE, seed])
    mosaics = []
    for i in range(n_scenes):
        srng = np.random.default_rng(synth.VALIDATION_SEED_BASE + seed * 1000 + i)
        mosaics.append(synth.clean_raw(synth.procedural_scene(patch, srng), srng)[0])
    if photos:
        from .photos import photo_paths

        paths = photo_paths("val", photo_cache)
        for i, path in enumerate(paths):
            k = photos // len(paths) + (i < photos % len(paths))
            if k:
                mosaics += [m.astype(np.float32) for m in
                            _photo_patches((str(path), patch, k, (2.0, 2.0), 0.0, synth.VALIDATION_SEED_BASE + 97 * i))]
    clean = torch.from_numpy(pack_rggb(np.stack(mosaics)))
    out = []
    for a in levels:
        noise = torch.tensor([[a] * 4 + [float(log_linear_b(a))] * 4] * len(mosaics), dtype=torch.float32)
        out.append((float(a), add_sensor_noise(clean, noise, NoisePrior(), rng), clean, noise))
    return out
