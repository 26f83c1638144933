"""Realistic noisy inputs for INT8 calibration and for the quality check of every exported format.

A specialist only ever sees noise from its own sub-range, so its activation ranges must be
measured there: each sample is a procedural scene, unprocessed to a RAW mosaic with a random
camera, packed to RGGB planes, with Poisson–Gaussian noise whose shot term is drawn log-uniformly
from the specialist's ``a_range`` (read term on the DND-fitted line). Fixed seeds make every
export reproducible; the quality check uses seeds disjoint from calibration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from denoise.cfa import pack_rggb
from training.noise_synthesis import add_noise, sample_noise_profile
from training.synth import clean_raw, procedural_scene

CALIBRATION_SEED = 7_000_000   # far from training seeds [0, …) used by short runs and from the eval bases
QUALITY_SEED = 7_500_000


@dataclass(frozen=True)
class NoisyCrop:
    """One model input: packed noisy planes (4, h, w), its noise vector (8,) and the clean planes."""

    noisy: np.ndarray
    noise: np.ndarray
    clean: np.ndarray


def noisy_crops(a_range: tuple[float, float], count: int, size: int = 128,
                seed: int = CALIBRATION_SEED) -> list[NoisyCrop]:
    """``count`` crops of ``size``×``size`` packed planes (a 2·size Bayer scene) from ``a_range``."""
    lo, hi = float(a_range[0]), float(a_range[1])
    if not 0 < lo <= hi:
        raise ValueError(f"noise range a_range={list(a_range)} must satisfy 0 < low <= high")
    crops = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        mosaic, _ = clean_raw(procedural_scene(2 * size, rng), rng)
        clean = pack_rggb(mosaic)
        profile = sample_noise_profile(rng, (lo, hi))
        crops.append(NoisyCrop(add_noise(clean, profile, rng), profile.as_vector(), clean))
    return crops


class CalibrationReader(CalibrationDataReader):
    """ONNX Runtime ``CalibrationDataReader`` over noisy crops: one ``{noisy, noise}`` feed per crop."""

    def __init__(self, crops: list[NoisyCrop]) -> None:
        self.crops = crops
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(())
        self.rewind()

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:
        self._feeds = iter([{"noisy": c.noisy[None].astype(np.float32), "noise": c.noise[None]}
                            for c in self.crops])

    def __len__(self) -> int:
        return len(self.crops)
