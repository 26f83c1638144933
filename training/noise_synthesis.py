"""Noise synthesis, the one owner: what a sensor adds to a clean RAW, in numpy and in torch.

The numpy path (:func:`sample_noise_profile`, :func:`add_noise`) draws the fixed, seeded noisy inputs of
the local benchmark, the demo and export calibration; the torch path (:class:`NoisePrior`,
:func:`add_sensor_noise`, :func:`real_sensor_noise`) makes training batches. Both use the DESIGN's
heteroscedastic model ``Var[x] = a·x + b`` on the normalized scale, with the read term on the
DND-fitted log-linear line unless a measured camera supplies it; the torch path can add what real
sensors add beyond it.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from denoise.noise import LOG_B_INTERCEPT, LOG_B_SLOPE, NoiseProfile, log_linear_b

from .photos import DEFAULT_CACHE as DEFAULT_PHOTO_CACHE

DEFAULT_A_RANGE = (1e-4, 2e-2)


def sample_noise_profile(rng: np.random.Generator, a_range: tuple[float, float] = DEFAULT_A_RANGE,
                         b_sigma: float = 0.26) -> NoiseProfile:
    """Shot term log-uniform over ``a_range``; read term on the DND-fitted log-linear line."""
    a = float(np.exp(rng.uniform(np.log(a_range[0]), np.log(a_range[1]))))
    b = float(log_linear_b(a, rng.normal(0.0, b_sigma)))
    return NoiseProfile.uniform(a, b, source="synthetic")


def add_noise(clean_planes: np.ndarray, profile: NoiseProfile, rng: np.random.Generator) -> np.ndarray:
    """Poisson shot + Gaussian read noise on packed (4, h, w) planes (normalized scale)."""
    a = np.asarray(profile.a, dtype=np.float64)[:, None, None]
    b = np.asarray(profile.b, dtype=np.float64)[:, None, None]
    x = np.maximum(clean_planes.astype(np.float64), 0.0)
    safe_a = np.where(a > 0, a, 1.0)
    shot = np.where(a > 0, rng.poisson(x / safe_a) * safe_a, x)
    return (shot + rng.normal(size=x.shape) * np.sqrt(b)).astype(np.float32)



@dataclass(frozen=True)
class NoisePrior:
    """log a ~ U(log a_min, log a_max); log b = 2.18 log a + 1.20 + N(0, b_sigma²) — or a real camera's b.

    ``camera_profiles``: the fraction of samples whose read term comes from a measured camera
    (darktable's per-ISO profiles, :func:`training.photos.camera_noise_profiles`): the profile nearest
    in log a to the drawn a, its b scaled as an analog gain would (b·(a/a_p)²).
    ``real_sensor``: the fraction of samples with the components real sensors add to Poisson–Gaussian
    noise (ELD, Wei et al. CVPR 2020): heavy-tailed read noise (Tukey lambda), row and column noise,
    a per-plane black-level bias, ADC quantization at 10–14 bits and, for some, clipping at black.
    ``level_jitter``: std of the log-normal error of the (a, b) handed to the model, so it tolerates
    imperfect metadata and blind estimates.
    The global ``row_noise`` / ``tukey_lambda`` / ``quantization`` / ``clip_black`` apply to every sample.
    """

    a_range: tuple[float, float] = DEFAULT_A_RANGE
    b_sigma: float = 0.26
    plane_jitter: float = 0.0
    row_noise: float = 0.0
    tukey_lambda: float | None = None
    quantization: float = 0.0
    clip_black: bool = False
    camera_profiles: float = 0.0
    real_sensor: float = 0.0
    level_jitter: float = 0.0
    profile_cache: str = str(DEFAULT_PHOTO_CACHE)
    extras: dict = field(default_factory=dict)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 8) float32 noise vectors [a×4, b×4]."""
        lo, hi = np.log(self.a_range[0]), np.log(self.a_range[1])
        a = np.exp(rng.uniform(lo, hi, size=(n, 1)))
        b = log_linear_b(a, rng.normal(0.0, self.b_sigma, size=(n, 1)))
        if self.camera_profiles:
            measured = rng.uniform(size=n) < self.camera_profiles
            if measured.any():
                b[measured, 0] = _camera_read_term(a[measured, 0], self.profile_cache)
        a4 = a * np.exp(rng.normal(0.0, self.plane_jitter, size=(n, 4))) if self.plane_jitter else np.repeat(a, 4, 1)
        b4 = np.repeat(b, 4, 1)
        return np.concatenate([a4, b4], axis=1).astype(np.float32)

    def jitter(self, noise: Tensor, rng: np.random.Generator) -> Tensor:
        """The noise vectors as an imperfect estimate would report them (identity when level_jitter is 0)."""
        if not self.level_jitter:
            return noise
        err = np.exp(rng.normal(0.0, self.level_jitter, size=(noise.shape[0], 2))).astype(np.float32)
        return noise * torch.from_numpy(np.repeat(err, 4, axis=1))


@functools.lru_cache(maxsize=4)
def _log_profiles(cache: str) -> tuple[np.ndarray, np.ndarray]:
    from .photos import camera_noise_profiles

    prof = camera_noise_profiles(cache)
    order = np.argsort(prof[:, 0])
    return np.log(prof[order, 0]), np.log(prof[order, 1])


def _camera_read_term(a: np.ndarray, cache: str) -> np.ndarray:
    """Read term b of the measured profile nearest in log a, scaled to ``a`` like an analog gain."""
    log_a, log_b = _log_profiles(cache)
    idx = np.clip(np.searchsorted(log_a, np.log(a)), 1, len(log_a) - 1)
    idx -= np.abs(np.log(a) - log_a[idx - 1]) < np.abs(np.log(a) - log_a[idx])
    return np.exp(log_b[idx] + 2.0 * (np.log(a) - log_a[idx]))


def _tukey_lambda(rng: np.random.Generator, lam: float, shape: tuple[int, ...]) -> np.ndarray:
    u = rng.uniform(1e-6, 1 - 1e-6, size=shape)
    x = (u ** lam - (1 - u) ** lam) / lam if lam != 0 else np.log(u / (1 - u))
    return x / x.std()


def add_sensor_noise(clean: Tensor, noise: Tensor, prior: NoisePrior, rng: np.random.Generator) -> Tensor:
    """Poisson shot noise + read noise on (N, 4, h, w) clean planes for (N, 8) noise vectors."""
    a = noise[:, :4, None, None].double()
    b = noise[:, 4:, None, None].double()
    x = clean.double().clamp_min(0)
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    shot = torch.poisson(x / a, generator=gen) * a
    if prior.tukey_lambda is not None:
        read = torch.from_numpy(_tukey_lambda(rng, prior.tukey_lambda, tuple(clean.shape)))
    else:
        read = torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    noisy = shot + read * b.sqrt()
    if prior.row_noise:
        rows = torch.randn(clean.shape[0], 1, clean.shape[2], 1, generator=gen, dtype=torch.float64)
        noisy = noisy + rows * b.sqrt() * prior.row_noise
    if prior.quantization:
        noisy = torch.round(noisy / prior.quantization) * prior.quantization
    if prior.clip_black:
        noisy = noisy.clamp_min(0)
    if prior.real_sensor:
        for i in np.flatnonzero(rng.uniform(size=clean.shape[0]) < prior.real_sensor):
            noisy[i] = real_sensor_noise(shot[i], a[i, 0, 0, 0].item(), b[i, 0, 0, 0].item(), rng)
    return noisy.float()


def real_sensor_noise(shot: Tensor, a: float, b: float, rng: np.random.Generator) -> Tensor:
    """Shot noise plus the read-side components of a real sensor, for one (4, h, w) sample.

    Packed planes are R, G1, G2, B: mosaic row 2i holds R and G1, row 2i+1 G2 and B; mosaic column 2j
    holds R and G2, column 2j+1 G1 and B — row and column noise follow the mosaic, not the planes.
    Row and column noise are drawn relative to the frame's total noise at its mean signal (banding is
    visible at a few percent of it), the black-level bias relative to the read std.
    """
    _, h, w = shot.shape
    sd = b ** 0.5
    lam = float(rng.uniform(-0.25, 0.15))
    read = torch.from_numpy(_tukey_lambda(rng, lam, tuple(shot.shape)) if abs(lam) > 0.01 else rng.normal(size=shot.shape))
    noisy = shot + read * sd
    ref = (b + a * max(float(shot.mean()), 0.0)) ** 0.5
    rows = torch.from_numpy(rng.normal(0.0, rng.uniform(0.03, 0.2) * ref, size=(2, h)))
    cols = torch.from_numpy(rng.normal(0.0, rng.uniform(0.0, 0.1) * ref, size=(2, w)))
    noisy = noisy + rows[[0, 0, 1, 1], :, None] + cols[[0, 1, 0, 1], None, :]
    noisy = noisy + torch.from_numpy(rng.normal(0.0, 0.3 * sd, size=(4, 1, 1)))    # black-level bias
    step = 1.0 / (2 ** int(rng.choice([10, 12, 14])) - 1)
    noisy = torch.round(noisy / step) * step
    if rng.uniform() < 0.2:
        noisy = noisy.clamp_min(0)
    return noisy


def poisson_gaussian_batch(clean: Tensor, prior: NoisePrior, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """(noisy, (N, 8) noise vectors) for clean (N, 4, h, w) planes, drawn on their own device.

    The device sampler's path: the prior's log-uniform a and log-linear b as batched tensor ops
    (:func:`denoise.noise.log_linear_b` on tensors), float32 Poisson and Gaussian draws.
    """
    n, dev = clean.shape[0], clean.device
    lo, hi = math.log(prior.a_range[0]), math.log(prior.a_range[1])
    log_a = lo + (hi - lo) * torch.rand(n, 1, generator=gen, device=dev, dtype=torch.float64)
    jitter = prior.b_sigma * torch.randn(n, 1, generator=gen, device=dev, dtype=torch.float64)
    a = log_a.exp()
    b = torch.exp(LOG_B_SLOPE * log_a + LOG_B_INTERCEPT + jitter)
    noise = torch.cat([a.expand(n, 4), b.expand(n, 4)], 1).float()
    a4, b4 = a.float()[:, :, None, None], b.float()[:, :, None, None]
    shot = torch.poisson(clean.clamp_min(0) / a4, generator=gen) * a4
    return shot + torch.randn(clean.shape, generator=gen, device=dev) * b4.sqrt(), noise
