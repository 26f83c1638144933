"""Synthetic pairs: noise statistics, Bayer-safe augmentation, deterministic batches."""
import numpy as np
import torch

from denoise.cfa import pack_rggb
from training.data import PairSampler, bayer_augment
from training.noise_synthesis import NoisePrior, add_sensor_noise


def test_noise_variance_matches_a_x_plus_b():
    a, b = 4e-3, 2e-5
    levels = torch.tensor([0.02, 0.1, 0.4, 0.8])
    clean = levels.view(1, 4, 1, 1).expand(1, 4, 256, 256).contiguous()
    noise = torch.tensor([[a] * 4 + [b] * 4])
    noisy = add_sensor_noise(clean, noise, NoisePrior(), np.random.default_rng(0))
    n = 256 * 256
    for p, x in enumerate(levels.tolist()):
        var = noisy[0, p].double().var().item()
        expected = a * x + b
        # std of a sample variance ≈ var·sqrt(2/n) (+ excess kurtosis of Poisson, small here)
        assert abs(var - expected) < 5 * expected * np.sqrt(2 / n) + 1e-9, (x, var, expected)
        assert abs(noisy[0, p].double().mean().item() - x) < 5 * np.sqrt(expected / n)


def test_noise_prior_covers_range_and_follows_log_linear_read_term():
    prior = NoisePrior(a_range=(1e-4, 2e-2))
    v = prior.sample(np.random.default_rng(1), 4000)
    a, b = v[:, 0], v[:, 4]
    assert a.min() >= 1e-4 and a.max() <= 2e-2
    assert a.min() < 1.2e-4 and a.max() > 1.7e-2
    resid = np.log(b) - (2.18 * np.log(a) + 1.20)
    assert abs(resid.mean()) < 0.02 and abs(resid.std() - 0.26) < 0.02


def _colour_index_mosaic(h, w):
    """RGGB mosaic whose value is the colour: R=0, G=1, B=2."""
    m = np.ones((h, w), np.float32)
    m[0::2, 0::2] = 0
    m[1::2, 1::2] = 2
    return m


def test_augmentation_keeps_rggb_phase():
    mosaic = _colour_index_mosaic(40, 40)
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(64):
        crop = bayer_augment(mosaic, 16, rng)
        planes = pack_rggb(crop)
        assert crop.shape == (16, 16)
        assert (planes[0] == 0).all() and (planes[1] == 1).all() and (planes[2] == 1).all() and (planes[3] == 2).all()
        seen.add(crop.tobytes())
    # and the augmentation really varies the content (position ramps would show flips)
    ramp = np.arange(40 * 40, dtype=np.float32).reshape(40, 40)
    outs = {bayer_augment(ramp, 16, np.random.default_rng(s)).tobytes() for s in range(32)}
    assert len(outs) > 8


def test_batches_are_a_function_of_seed_and_step():
    pool = np.random.default_rng(0).uniform(0, 1, size=(5, 40, 40)).astype(np.float16)
    s1 = PairSampler(pool, NoisePrior(), batch=3, patch=16, seed=11)
    s2 = PairSampler(pool, NoisePrior(), batch=3, patch=16, seed=11)
    for step in (0, 7):
        for t1, t2 in zip(s1.batch_at(step), s2.batch_at(step)):
            assert torch.equal(t1, t2)
    assert not torch.equal(s1.batch_at(0)[0], s1.batch_at(1)[0])
    assert not torch.equal(s1.batch_at(0)[0], PairSampler(pool, NoisePrior(), 3, 16, 11, rank=1).batch_at(0)[0])


def test_srgb_sources_from_installed_packages_skip_the_benchmark_photos(tmp_path):
    from evaluation.benchset import SKIMAGE_PHOTOS
    from training.data import PoolSpec, SRGB_EXTENSIONS, _files, build_pool

    files = _files(["package:skimage/data"], SRGB_EXTENSIONS)
    stems = {p.stem for p in files}
    assert "brick" in stems and not stems & set(SKIMAGE_PHOTOS)
    assert _files(["package:skimage/data/astronaut.png"], SRGB_EXTENSIONS) == []  # never, even when named
    spec = PoolSpec(procedural=1, size=64, srgb_dirs=("package:skimage/data/brick.png", "package:skimage/data/coins.png"),
                    srgb_per_image=2)
    pool = build_pool(spec, tmp_path, workers=1, progress=False)
    assert pool.shape == (5, 64, 64) and pool.dtype == np.float16
    assert 0 <= pool.min() and pool.max() <= 1 and pool[1:].std() > 0.01
    import pytest
    with pytest.raises(FileNotFoundError, match="no installed package"):
        _files(["package:not_a_package_xyz/data"], SRGB_EXTENSIONS)
