"""Training noise beyond textbook Poisson–Gaussian: measured camera read terms, real-sensor components,
noise-level jitter — and the clean-pool options that bring photographs and unusual cameras in."""
import hashlib
import json

import numpy as np
import torch

from training.data import PairSampler, PoolSpec, _photo_patches, _source_path
from training.noise_synthesis import NoisePrior, add_sensor_noise
from training.synth import random_camera


def _fake_profiles(tmp_path, rows):
    path = tmp_path / "darktable" / "usr/share/darktable/noiseprofiles.json"
    path.parent.mkdir(parents=True)
    profiles = [{"name": f"cam iso {i}", "iso": 100 * (i + 1), "a": [2 * a, a, 1.5 * a], "b": [2 * b, b, 1.5 * b]}
                for i, (a, b) in enumerate(rows)]
    path.write_text(json.dumps({"version": 0, "noiseprofiles": [{"maker": "X", "models": [
        {"model": "Y", "profiles": profiles}]}]}))
    return str(tmp_path)


def test_camera_profiles_give_the_nearest_cameras_read_term_scaled_like_a_gain(tmp_path):
    cache = _fake_profiles(tmp_path, [(1e-4, 4e-8), (1e-3, 1e-6), (5e-3, -1e-7)])  # the last one is a bad fit
    prior = NoisePrior(a_range=(1e-4, 2e-2), camera_profiles=1.0, profile_cache=cache)
    noise = prior.sample(np.random.default_rng(0), 200)
    a, b = noise[:, 0].astype(np.float64), noise[:, 4].astype(np.float64)
    near_low = np.abs(np.log(a / 1e-4)) < np.abs(np.log(a / 1e-3))
    expected = np.where(near_low, 4e-8 * (a / 1e-4) ** 2, 1e-6 * (a / 1e-3) ** 2)  # green terms; b ≤ 0 dropped
    np.testing.assert_allclose(b, expected, rtol=1e-5)
    plain = NoisePrior(a_range=(1e-4, 2e-2)).sample(np.random.default_rng(0), 200)
    np.testing.assert_array_equal(plain[:, 0], noise[:, 0])        # the shot terms keep their prior


def test_real_sensor_components_band_rows_and_quantize():
    clean = torch.full((8, 4, 64, 64), 0.1)
    noise = torch.tensor([[1e-3] * 4 + [1e-5] * 4] * 8)
    rng = np.random.default_rng(3)
    real = add_sensor_noise(clean, noise, NoisePrior(real_sensor=1.0), rng).double()
    plain = add_sensor_noise(clean, noise, NoisePrior(), np.random.default_rng(3)).double()

    def row_spread(x):  # std of row means relative to the pixel std; white noise gives ~1/sqrt(64)
        r = x - clean.double()
        return float((r.mean(dim=3).std(dim=2) / r.std(dim=(2, 3))).mean())
    assert row_spread(real) > 1.3 * row_spread(plain)
    steps = [1 / (2 ** bits - 1) for bits in (10, 12, 14)]
    for sample in real:  # every sample sits on one ADC grid
        assert any(torch.allclose(sample / s, torch.round(sample / s), atol=1e-6) for s in steps)


def test_level_jitter_changes_what_the_model_is_told_not_the_noise_drawn():
    pool = np.random.default_rng(0).uniform(0, 1, (4, 40, 40)).astype(np.float16)
    exact = PairSampler(pool, NoisePrior(), batch=64, patch=16, seed=5).batch_at(3)
    jittered = PairSampler(pool, NoisePrior(level_jitter=0.1), batch=64, patch=16, seed=5).batch_at(3)
    assert torch.equal(exact[0], jittered[0]) and torch.equal(exact[1], jittered[1])
    ratio = (jittered[2] / exact[2]).log()
    assert torch.allclose(ratio[:, :4], ratio[:, :1].expand(-1, 4)) and 0.05 < float(ratio[:, 0].std()) < 0.15
    assert not torch.allclose(ratio[:, 0], ratio[:, 4])                  # a and b are off independently


def test_photo_crops_are_multiscale_unprocessed_mosaics():
    path = str(_source_path("package:skimage/data/motorcycle_left.png"))
    crops = _photo_patches((path, 64, 6, (1.5, 4.0), 0.0, 7))
    assert len(crops) == 6 and all(c.shape == (64, 64) and c.dtype == np.float16 for c in crops)
    assert all(0.0 <= float(c.min()) and float(c.max()) <= 1.0 for c in crops)
    assert len({c.tobytes() for c in crops}) == 6
    again = _photo_patches((path, 64, 6, (1.5, 4.0), 0.0, 7))
    assert all(np.array_equal(x, y) for x, y in zip(crops, again))


def test_wide_cameras_drop_the_white_balance_and_brighten():
    rng = np.random.default_rng(1)
    wide = [random_camera(rng, wide=True) for _ in range(200)]
    usual = [random_camera(rng) for _ in range(200)]
    assert min(c.red_gain for c in wide) < 1.0 < max(c.red_gain for c in wide)
    assert all(c.red_gain >= 1.9 for c in usual)
    assert min(c.brightness for c in wide) < 0.5 < min(c.brightness for c in usual)


def test_pool_keys_of_existing_recipes_are_unchanged_by_the_new_options():
    old_fields = {"procedural": 3000, "size": 256, "seed": 0, "srgb_dirs": [], "srgb_per_image": 4, "raw_dirs": [],
                  "raw_per_image": 8}
    old_key = hashlib.sha256(json.dumps(old_fields, sort_keys=True).encode()).hexdigest()[:16]
    assert PoolSpec(procedural=3000, size=256, seed=0).key() == old_key
    assert PoolSpec(procedural=3000, size=256, seed=0, photo_split="train", photo_crops=4).key() != old_key
