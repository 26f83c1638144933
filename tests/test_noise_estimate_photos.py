"""Blind noise estimation on textured photographs: no refusal, and the shot term within bounds.

The photographs ship with scikit-image (never seen while the estimator was designed, which used
procedural scenes). Each crop is turned into a clean RAW by unprocessing and noised at four shot
terms a with b on the DND line. The photographs carry their own sensor and JPEG noise (about 1.5–2
levels of 255 in sRGB, as much as the added noise at a = 1e-4 once unprocessed), so each crop is
first cleaned with non-local means at its own estimated noise level; otherwise the lowest level
would measure the photograph, not the estimator.

The worst-case bound holds on high-confidence estimates only. The exception is the cat's fur in
``chelsea`` at a = 1e-4, and the test prints why: before any noise is added, even the flattest 5 %
of the crop's 8×8 blocks carry texture of 3.5 (seed 1) and 0.32 (seed 0) times the added noise
variance in the estimator's residual (:func:`texture_floor`), so no choice of flat blocks can
separate the two; the estimate is flagged low-confidence. On the same crop the smallest eigenvalue
of the clean residuals' covariance is still above the noise (seed 1), so an adapted (PCA) basis does
not help either; a linear prediction of each plane from the other planes' neighbours, fitted on the
noisy mosaic, removes the shared texture only partly (hair is finer than the CFA spacing). Smaller
blocks lower the fur crop's error but cost the medians; stronger cleaning of the source barely
changes it, and down-sampling the photograph by 2 before unprocessing makes it worse (denser texture
in smaller crops).

Run with ``pytest -s`` to print the errors per level.
"""
from __future__ import annotations

import numpy as np
import pytest
from skimage import data
from skimage.restoration import denoise_nl_means, estimate_sigma

from denoise.cfa import pack_rggb, unpack_rggb
from denoise.noise import NoiseProfile, log_linear_b
from denoise.noise_estimate import DOF, _block_residuals, estimate_noise
from denoise.selector import noise_level
from training.noise_synthesis import add_noise
from training.synth import clean_raw

PHOTOS = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea, "rocket": data.rocket,
          "motorcycle_left": lambda: data.stereo_motorcycle()[0],
          "motorcycle_right": lambda: data.stereo_motorcycle()[1]}
LEVELS = (1e-4, 1e-3, 5e-3, 2e-2)
SEEDS = (0, 1)
CROP = 480


def clean_crop(photo: np.ndarray, seed: int) -> np.ndarray:
    """A square sRGB crop (CROP or the photo's short side) at a seeded place, its own noise removed."""
    srgb = photo[..., :3].astype(np.float32) / 255.0
    side = min(CROP, srgb.shape[0] // 2 * 2, srgb.shape[1] // 2 * 2)
    rng = np.random.default_rng(seed)
    top, left = (int(rng.integers(0, n - side + 1)) // 2 * 2 for n in srgb.shape[:2])
    crop = srgb[top:top + side, left:left + side]
    sigma = float(estimate_sigma(crop, channel_axis=-1, average_sigmas=True))
    return denoise_nl_means(crop, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6,
                            channel_axis=-1).astype(np.float32)


def texture_floor(clean: np.ndarray, noise: NoiseProfile) -> float:
    """Texture in the flattest 5 % of a clean crop's blocks, as a fraction of the ``noise`` added to it.

    The estimator's residual energy per block (clean, so texture only) over the noise variance at the
    block's signal; the 5 % quantile per plane, the largest over the planes. Well below 1 means the
    crop has blocks flat enough to tell noise from texture.
    """
    mean, residual, _, _ = _block_residuals(clean)
    texture = np.einsum("pbk,pbk->pb", residual, residual) / DOF
    variance = np.stack([noise.std(mean[p], p) ** 2 for p in range(4)])
    return float(np.quantile(texture / variance, 0.05, axis=1).max())


@pytest.fixture(scope="module")
def estimates() -> list[tuple[str, int, float, NoiseProfile, float]]:
    """(photo, seed, true a, estimate, texture floor) for every crop and level."""
    out = []
    for name, load in PHOTOS.items():
        photo = load()
        for seed in SEEDS:
            clean = pack_rggb(clean_raw(clean_crop(photo, seed), np.random.default_rng(seed))[0])
            for i, a in enumerate(LEVELS):
                truth = NoiseProfile.uniform(a, float(log_linear_b(a)), "synthetic")
                noisy = add_noise(clean, truth, np.random.default_rng(100 * i + seed))
                out.append((name, seed, a, estimate_noise(unpack_rggb(noisy)), texture_floor(clean, truth)))
    return out


def test_shot_term_on_textured_photographs(estimates: list[tuple[str, int, float, NoiseProfile, float]]) -> None:
    level_err = np.array([noise_level(est) / a - 1 for _, _, a, est, _ in estimates])
    plane_err = np.array([np.array(est.a) / a - 1 for _, _, a, est, _ in estimates])
    high = np.array(["confidence high" in est.detail for *_, est, _ in estimates])
    print("\nrelative error of the shot term a on photograph crops (level = mean a of the four planes)")
    print("      a   level: median  worst   per plane: median  worst   high confidence")
    for a in LEVELS:
        at = np.array([row[2] == a for row in estimates])
        print(f"{a:8.0e}   {np.median(np.abs(level_err[at])):13.1%} {np.abs(level_err[at]).max():6.1%}"
              f"   {np.median(np.abs(plane_err[at])):17.1%} {np.abs(plane_err[at]).max():6.1%}"
              f"   {high[at].sum()}/{at.sum()}")
    print(f"     all   {np.median(np.abs(level_err)):13.1%} {np.abs(level_err).max():6.1%}"
          f"   {np.median(np.abs(plane_err)):17.1%} {np.abs(plane_err).max():6.1%}   {high.sum()}/{len(high)}")
    floor = np.array([row[-1] for row in estimates])
    for (name, seed, a, est, tex), err in zip(estimates, level_err):
        if abs(err) > 0.25:
            print(f"  beyond 25 %: {name} seed {seed} a={a:.0e}: {err:+.0%}, texture floor {tex:.2f} of the noise; "
                  f"{est.detail.split('; ')[-1]}")
    assert np.median(np.abs(level_err)) <= 0.10
    assert np.median(np.abs(plane_err)) <= 0.10
    assert np.abs(level_err[high]).max() <= 0.25
    # An estimate that misses by more than a quarter says so.
    assert not np.any(high & (np.abs(level_err) > 0.25))
    assert high.sum() >= len(high) // 2  # low confidence is the exception, not the rule
    # A miss beyond a quarter only where even the crop's flattest blocks carry that much texture.
    assert np.all(floor[np.abs(level_err) > 0.25] >= 0.25)


def test_low_confidence_is_explained(estimates: list[tuple[str, int, float, NoiseProfile, float]]) -> None:
    details = [est.detail for *_, est, _ in estimates]
    assert all(d.endswith("confidence high") or "; confidence low: only " in d for d in details)
    assert all("\n" not in d for d in details)
