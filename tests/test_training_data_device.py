"""The on-device pair sampler: same contract as the host sampler (phase, windows, noise, determinism)."""
import numpy as np
import pytest
import torch

from training.data import DevicePairSampler
from training.noise_synthesis import NoisePrior


def _colour_index_pool(n, size):
    m = np.ones((n, size, size), np.float16)
    m[:, 0::2, 0::2] = 0
    m[:, 1::2, 1::2] = 2
    return m


def test_device_crops_keep_rggb_phase():
    sampler = DevicePairSampler(_colour_index_pool(3, 40), NoisePrior(a_range=(1e-12, 2e-12)), batch=64, patch=16, seed=0)
    _, clean, _ = sampler.batch_at(0)
    assert clean.shape == (64, 4, 8, 8)
    for plane, colour in enumerate((0, 1, 1, 2)):
        assert (clean[:, plane] == colour).all()


def _windows(img, patch):
    """Every even-offset patch×patch window of ``img`` in its 8 phase-keeping orientations."""
    out = set()
    size = img.shape[0]
    for y in range(0, size - patch - 1, 2):
        for x in range(0, size - patch - 1, 2):
            win = img[y:y + patch + 2, x:x + patch + 2]
            for fv in (0, 1):
                for fh in (0, 1):
                    w = win[::-1] if fv else win
                    w = w[:, ::-1] if fh else w
                    w = w[fv:fv + patch, fh:fh + patch]
                    out.add(np.ascontiguousarray(w).tobytes())
                    out.add(np.ascontiguousarray(w.T).tobytes())
    return out


def test_device_crops_are_flipped_or_transposed_windows_of_the_pool():
    size, patch = 24, 8
    pool = np.arange(2 * size * size, dtype=np.float32).reshape(2, size, size).astype(np.float16)
    valid = _windows(pool[0].astype(np.float32), patch) | _windows(pool[1].astype(np.float32), patch)
    sampler = DevicePairSampler(pool, NoisePrior(a_range=(1e-12, 2e-12)), batch=32, patch=patch, seed=5)
    seen = set()
    for step in range(4):
        _, clean, _ = sampler.batch_at(step)
        mosaic = torch.zeros(clean.shape[0], patch, patch)
        mosaic[:, 0::2, 0::2], mosaic[:, 0::2, 1::2] = clean[:, 0], clean[:, 1]
        mosaic[:, 1::2, 0::2], mosaic[:, 1::2, 1::2] = clean[:, 2], clean[:, 3]
        for m in mosaic.numpy():
            assert m.tobytes() in valid
            seen.add(m.tobytes())
    assert len(seen) > 64  # many different windows and orientations


def test_device_noise_variance_matches_a_x_plus_b():
    pool = np.full((1, 260, 260), 0.3, np.float16)
    sampler = DevicePairSampler(pool, NoisePrior(a_range=(1e-3, 1e-2)), batch=64, patch=256, seed=2)
    noisy, clean, noise = sampler.batch_at(0)
    a, b = noise[:, 0].double(), noise[:, 4].double()
    x = clean[:, 0, 0, 0].double()
    var = (noisy - clean).double().flatten(1).var(dim=1)
    expected = a * x + b
    n = 4 * 128 * 128
    assert ((var - expected).abs() < 5 * expected * np.sqrt(2 / n)).all()
    assert (noise[:, :4] == noise[:, :1]).all() and (noise[:, 4:] == noise[:, 4:5]).all()
    log_a = torch.log(a)
    assert log_a.min() >= np.log(1e-3) - 1e-6 and log_a.max() <= np.log(1e-2) + 1e-6
    resid = torch.log(b) - (2.18 * log_a + 1.20)
    assert abs(resid.mean().item()) < 0.1 and abs(resid.std().item() - 0.26) < 0.08


def test_device_batches_are_a_function_of_seed_step_rank():
    pool = np.random.default_rng(0).uniform(0, 1, size=(5, 40, 40)).astype(np.float16)
    s1 = DevicePairSampler(pool, NoisePrior(), batch=3, patch=16, seed=11)
    s2 = DevicePairSampler(pool, NoisePrior(), batch=3, patch=16, seed=11)
    for step in (0, 7):
        for t1, t2 in zip(s1.batch_at(step), s2.batch_at(step)):
            assert torch.equal(t1, t2)
    assert not torch.equal(s1.batch_at(0)[0], s1.batch_at(1)[0])
    assert not torch.equal(s1.batch_at(0)[0], DevicePairSampler(pool, NoisePrior(), 3, 16, 11, rank=1).batch_at(0)[0])
    assert not torch.equal(s1.batch_at(0)[0], s1.with_seed(12).batch_at(0)[0])


def test_device_sampler_refuses_host_only_noise_extras():
    pool = np.zeros((1, 40, 40), np.float16)
    with pytest.raises(ValueError, match="sampler: host"):
        DevicePairSampler(pool, NoisePrior(row_noise=0.1), 2, 16, 0)
