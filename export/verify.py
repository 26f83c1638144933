"""Numerical checks of exported models against the float torch model they came from.

* Parity (exact formats: ONNX fp32, ORT, ExecuTorch): the exported runner and the torch runner
  denoise the same realistic noisy planes through the runtime's own tiled path
  (:func:`denoise.tiling.denoise_planes`: reflect padding to the stride, several tiles, batches,
  cropping) at several sizes including odd ones; the largest absolute difference must stay
  within :data:`PARITY_TOLERANCE`, or the export is refused.
* Quality (lossy formats: INT8, fp16): PSNR and max abs difference of their output against the
  float model's output on held-out noisy crops of the specialist's noise range, and the denoising
  PSNR (against the clean planes) they lose next to the float model, per noise level; recorded in
  the bundle manifest.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from denoise.metrics import psnr
from denoise.noise import noise_terms
from denoise.tiling import denoise_planes

from . import ExportError
from .calibration import NoisyCrop, noisy_crops

PARITY_SIZES = ((37, 53), (64, 64), (91, 130))  # packed-plane (h, w): odd, tile-sized, multi-tile
PARITY_TOLERANCE = 1e-4
PARITY_TILE, PARITY_OVERLAP = 64, 16  # small tiles so every size crosses tile seams and batches
NOISE_GROUPS = 4  # a PSNR drop is judged per noise level: the worst of this many groups of crops ordered by a


@dataclass(frozen=True)
class Parity:
    size: tuple[int, int]
    max_abs: float


@dataclass(frozen=True)
class Quality:
    """Agreement with the float model: PSNR (peak 1; None when identical) and the largest difference;
    ``drop_db``: the denoising PSNR against the clean planes lost next to the float model (the worst
    noise-level group, see :func:`level_drop`)."""

    psnr_db: float | None
    max_abs: float
    drop_db: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"psnr_db": None if self.psnr_db is None else round(self.psnr_db, 2), "max_abs": float(self.max_abs),
                "psnr_drop_db": round(self.drop_db, 3)}


def _tile_for(stride: int) -> tuple[int, int]:
    tile = max(stride, PARITY_TILE // stride * stride)
    return tile, min(PARITY_OVERLAP // stride * stride, tile - stride)


def parity(reference: Any, candidate: Any, sizes: Sequence[tuple[int, int]] = PARITY_SIZES,
           a_range: tuple[float, float] = (1e-3, 1e-3), seed: int = 0) -> list[Parity]:
    """Max abs difference between two runners through the tiled runtime path, per image size."""
    if int(reference.stride) != int(candidate.stride):
        raise ExportError(f"{candidate.name}: stride {candidate.stride} differs from the model's {reference.stride}")
    tile, overlap = _tile_for(int(reference.stride))
    side = max(max(h, w) for h, w in sizes)
    crop = noisy_crops(a_range, 1, side, seed=seed)[0]
    results = []
    for h, w in sizes:
        planes = np.ascontiguousarray(crop.noisy[:, :h, :w])
        ref = denoise_planes(reference, planes, crop.noise, tile=tile, overlap=overlap, batch=2)
        out = denoise_planes(candidate, planes, crop.noise, tile=tile, overlap=overlap, batch=2)
        results.append(Parity((h, w), float(np.abs(out - ref).max())))
    return results


def check_parity(reference: Any, candidate: Any, label: str, a_range: tuple[float, float],
                 tolerance: float = PARITY_TOLERANCE) -> list[Parity]:
    """:func:`parity` at the default sizes, refusing the export when any size exceeds ``tolerance``."""
    results = parity(reference, candidate, a_range=(math.sqrt(a_range[0] * a_range[1]),) * 2)
    worst = max(results, key=lambda r: r.max_abs)
    if not worst.max_abs <= tolerance:
        raise ExportError(f"{label}: exported model differs from torch by {worst.max_abs:.3g} at "
                          f"{worst.size[0]}x{worst.size[1]} planes (limit {tolerance:g}); the export is wrong")
    return results


def _whole(runner: Any, crop: NoisyCrop) -> np.ndarray:
    h, w = crop.noisy.shape[1:]
    tile = max(h, w) + (-max(h, w)) % int(runner.stride)
    return denoise_planes(runner, crop.noisy, crop.noise, tile=tile, overlap=0)


def denoising_psnr(runner: Any, crops: Sequence[NoisyCrop]) -> np.ndarray:
    """PSNR (peak 1, clipped like the benchmark) of ``runner``'s output against each crop's clean planes."""
    return np.array([psnr(_whole(runner, crop), crop.clean) for crop in crops])


def level_drop(crops: Sequence[NoisyCrop], reference_psnr: Sequence[float], candidate_psnr: Sequence[float],
               groups: int = NOISE_GROUPS) -> float:
    """The worst mean PSNR drop over ``groups`` equal groups of ``crops`` ordered by noise level (mean a).

    One mean over a wide noise range would let the noisy crops, where 8-bit activations cost little,
    hide the loss at low noise, where they cost the most; the bar is per noise level.
    """
    if not len(crops) == len(reference_psnr) == len(candidate_psnr) > 0:
        raise ValueError("level_drop needs one reference and one candidate PSNR per crop")
    order = np.argsort([float(np.mean(noise_terms(c.noise)[0])) for c in crops], kind="stable")
    drops = (np.asarray(reference_psnr, dtype=np.float64) - np.asarray(candidate_psnr, dtype=np.float64))[order]
    return float(max(group.mean() for group in np.array_split(drops, min(groups, len(drops)))))


def quality(reference: Any, candidate: Any, crops: Sequence[NoisyCrop]) -> Quality:
    """Agreement of ``candidate`` with ``reference`` over ``crops`` (whole-crop runs), and the
    denoising PSNR it loses next to it per noise level."""
    sq_err, count, max_abs = 0.0, 0, 0.0
    ref_psnr, out_psnr = [], []
    for crop in crops:
        ref, out = _whole(reference, crop), _whole(candidate, crop)
        diff = (out - ref).astype(np.float64)
        sq_err += float(np.sum(diff * diff))
        count += diff.size
        max_abs = max(max_abs, float(np.abs(diff).max()))
        ref_psnr.append(psnr(ref, crop.clean))
        out_psnr.append(psnr(out, crop.clean))
    mse = sq_err / max(count, 1)
    drop = level_drop(crops, ref_psnr, out_psnr) if crops else 0.0
    return Quality(None if mse == 0 else 10 * math.log10(1.0 / mse), max_abs, drop)
