"""Blind noise estimation recovers the Poisson–Gaussian profile of textured scenes, per CFA plane."""
from __future__ import annotations

import numpy as np
import pytest

from denoise.cfa import pack_rggb, unpack_rggb
from denoise.noise import NoiseProfile, log_linear_b
from denoise.noise_estimate import NoiseEstimateError, estimate_noise
from training.noise_synthesis import add_noise
from training.synth import clean_raw, procedural_scene

LEVELS = np.geomspace(1e-4, 2e-2, 8)
SEEDS = (0, 1, 2, 3)


def clean_planes(seed: int, size: int = 512) -> np.ndarray:
    """(4, size/2, size/2) clean packed planes of a procedural scene (dead leaves, lines, text)."""
    mosaic, _ = clean_raw(procedural_scene(size, 500 + seed), np.random.default_rng(seed))
    return pack_rggb(mosaic)


@pytest.fixture(scope="module")
def scenes() -> dict[int, np.ndarray]:
    return {seed: clean_planes(seed) for seed in SEEDS}


def test_std_at_mean_signal_on_textured_scenes(scenes: dict[int, np.ndarray]) -> None:
    errors = []
    print("\n       a  seed  mean x  true std  est std (R, G1, G2, B)            worst err  source of b")
    for a in LEVELS:
        truth = NoiseProfile.uniform(float(a), float(log_linear_b(a)), "synthetic")
        for seed, clean in scenes.items():
            noisy = add_noise(clean, truth, np.random.default_rng(100 + seed))
            est = estimate_noise(unpack_rggb(noisy))
            assert est.source == "estimate" and "flat blocks" in est.detail
            x = float(clean.mean())
            true_std = float(truth.std(x, 0))
            est_std = np.array([est.std(x, p) for p in range(4)])
            rel = est_std / true_std - 1
            errors.extend(rel)
            prior = "DND relation" if "DND" in est.detail else "fitted"
            print(f"{a:8.2e}  {seed:4d}  {x:6.3f}  {true_std:8.5f}  "
                  f"{', '.join(f'{s:.5f}' for s in est_std)}  {np.abs(rel).max():+8.1%}  {prior}")
    errors = np.abs(np.array(errors))
    print(f"relative error of the std over {len(errors)} planes: median {np.median(errors):.1%}, "
          f"worst {errors.max():.1%}")
    assert np.median(errors) <= 0.10
    assert errors.max() <= 0.25


@pytest.mark.parametrize("base", [3e-4, 4e-3])
def test_planes_with_different_noise_are_told_apart(scenes: dict[int, np.ndarray], base: float) -> None:
    # Different gains per colour channel and read terms off the DND line (jitter), per plane.
    a = np.array([2.0, 1.0, 1.0, 3.0]) * base
    b = np.array([log_linear_b(v, j) for v, j in zip(a, (0.5, -0.4, 0.3, -0.2))])
    truth = NoiseProfile(tuple(a), tuple(b), "synthetic")
    for seed in (0, 1):
        clean = scenes[seed]
        est = estimate_noise(unpack_rggb(add_noise(clean, truth, np.random.default_rng(7 + seed))))
        rel = [est.std(clean[p].mean(), p) / truth.std(clean[p].mean(), p) - 1 for p in range(4)]
        print(f"\nbase a={base:.0e} seed={seed}: a est/true = {np.round(np.array(est.a) / a, 2)}, "
              f"std rel err per plane = {np.round(rel, 3)}")
        assert np.abs(rel).max() <= 0.2
        std = [est.std(0.3, p) for p in range(4)]
        assert std[3] > std[0] > max(std[1], std[2])  # B noisiest, then R, then the greens


def test_flat_scene_gives_unbiased_estimates() -> None:
    # Smooth shading only (no texture): what remains is the estimator's own bias and scatter.
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    clean = np.stack([0.02 + 0.8 * xx * (0.3 + 0.7 * yy)] * 4).astype(np.float32)
    rel = []
    for i, a in enumerate(LEVELS[::2]):
        truth = NoiseProfile.uniform(float(a), float(log_linear_b(a)), "synthetic")
        est = estimate_noise(unpack_rggb(add_noise(clean, truth, np.random.default_rng(i))))
        rel += [est.std(x, p) / truth.std(x, p) - 1 for p in range(4) for x in (0.05, 0.3, 0.6)]
    print(f"\nflat scene: std rel err mean {np.mean(rel):+.2%}, sd {np.std(rel):.2%}, worst {np.abs(rel).max():.1%}")
    assert abs(np.mean(rel)) <= 0.01
    assert np.abs(rel).max() <= 0.05


def test_bayer_phase_maps_planes_to_colours(scenes: dict[int, np.ndarray]) -> None:
    a = np.array([4e-3, 1e-3, 1e-3, 8e-3])
    truth = NoiseProfile(tuple(a), tuple(log_linear_b(a)), "synthetic")
    rggb = unpack_rggb(add_noise(scenes[2], truth, np.random.default_rng(3)))
    gbrg = rggb[1:, :]  # one row down: the mosaic now starts with a G-B row
    before = gbrg.copy()
    est = estimate_noise(gbrg, "GBRG")
    np.testing.assert_array_equal(gbrg, before)  # the input is left alone
    assert est == estimate_noise(rggb[2:, :], "RGGB")
    assert est.a[3] > est.a[0] > max(est.a[1], est.a[2])


@pytest.mark.parametrize("mosaic,pattern,match", [
    (np.zeros((100, 100), np.float32), "RGGB", "too small"),
    (np.zeros((2, 256, 256), np.float32), "RGGB", "2-D"),
    (np.full((256, 256), np.nan, np.float32), "RGGB", "NaN"),
    (np.zeros((256, 256), np.float32), "RGBW", "unknown Bayer pattern"),
    (np.full((256, 256), 0.3, np.float32), "RGGB", "flat unclipped"),  # constant = clipped everywhere
    (np.tile(np.linspace(0.1, 0.6, 256, dtype=np.float32), (256, 1)), "RGGB", "show no noise"),
    (np.kron(np.random.default_rng(0).uniform(0.1, 0.6, (16, 16)), np.ones((16, 16))).astype(np.float32),
     "RGGB", "show no noise"),  # constant 16x16 patches: flat, unclipped and noiseless
])
def test_unusable_mosaics_get_a_clear_error(mosaic: np.ndarray, pattern: str, match: str) -> None:
    with pytest.raises(NoiseEstimateError, match=match) as info:
        estimate_noise(mosaic, pattern)
    assert "\n" not in str(info.value)
