"""The generalized Anscombe transform stabilizes Poisson–Gaussian noise to σ = 1 and its inverse is
unbiased; BM3D through it removes noise without shifting the signal."""
import numpy as np
import pytest

from evaluation.bm3d_vst import bm3d_vst_denoise, gat_forward, gat_inverse
from denoise.noise import NoiseProfile, log_linear_b
from training.noise_synthesis import add_noise

# (a, b, clean signal): DND-line read noise at low and high gain, a strong read term, pure Gaussian.
CASES = [
    (1e-4, float(log_linear_b(1e-4)), 0.02),
    (2e-3, float(log_linear_b(2e-3)), 0.02),
    (2e-2, float(log_linear_b(2e-2)), 0.3),
    (1e-2, 1e-4, 0.1),
    (0.0, 1e-4, 0.05),
]


@pytest.mark.parametrize("a,b,signal", CASES)
def test_gat_gives_unit_variance_and_inverse_is_unbiased(a, b, signal):
    profile = NoiseProfile.uniform(a, b, source="synthetic")
    flat = np.full((4, 250, 400), signal, dtype=np.float32)          # 400 000 samples per plane
    noisy = add_noise(flat, profile, np.random.default_rng(7))
    stabilized = gat_forward(noisy, a, b)
    variance = stabilized.var(axis=(1, 2))
    print(f"a={a:g} b={b:.3g} x={signal}: stabilized variance per plane {np.round(variance, 4)}")
    assert np.all(np.abs(variance - 1.0) < 0.05)
    recovered = gat_inverse(stabilized.mean(axis=(1, 2)), a, b)
    rel = (recovered - signal) / signal
    print(f"  inverse of E[GAT] relative error {np.round(rel, 5)}")
    assert np.all(np.abs(rel) < 0.005)


def test_algebraic_inverse_would_be_biased_where_the_unbiased_one_is_not():
    # The reason for the exact unbiased inverse: at low counts squaring the mean back is biased.
    a, b, signal = 2e-2, float(log_linear_b(2e-2)), 0.12                 # 6 photo-electrons
    flat = np.full((4, 200, 250), signal, dtype=np.float32)
    noisy = add_noise(flat, NoiseProfile.uniform(a, b, "synthetic"), np.random.default_rng(3))
    mean_d = gat_forward(noisy, a, b).mean()
    algebraic = a * ((mean_d / 2) ** 2 - 0.375 - b / a ** 2)
    unbiased = float(gat_inverse(mean_d, a, b))
    print(f"signal {signal}: algebraic inverse {algebraic:.4f}, unbiased inverse {unbiased:.4f}")
    assert abs(algebraic - signal) / signal > 0.03
    assert abs(unbiased - signal) / signal < 0.01


def test_bm3d_vst_denoises_packed_planes_without_bias():
    a = 5e-3
    profile = NoiseProfile.uniform(a, float(log_linear_b(a)), "synthetic")
    yy, xx = np.mgrid[0:32, 0:32]
    clean = np.where(xx < 16, 0.15, 0.45) + 0.1 * yy / 32.0               # a step edge on a ramp
    clean = np.stack([clean * g for g in (0.6, 1.0, 1.0, 0.8)]).astype(np.float32)
    noisy = add_noise(clean, profile, np.random.default_rng(11))
    out = bm3d_vst_denoise(noisy, profile)
    assert out.shape == clean.shape and out.dtype == np.float32
    mse_in = np.mean((noisy - clean) ** 2)
    mse_out = np.mean((out - clean) ** 2)
    gain_db = 10 * np.log10(mse_in / mse_out)
    bias = (out.mean() - clean.mean()) / clean.mean()
    print(f"bm3d-vst on 4x32x32: PSNR gain {gain_db:.2f} dB, relative mean shift {bias:+.4f}")
    assert gain_db > 5.0
    assert abs(bias) < 0.01


def test_bm3d_vst_rejects_unpacked_input():
    with pytest.raises(ValueError, match="packed"):
        bm3d_vst_denoise(np.zeros((8, 8), np.float32), NoiseProfile.uniform(1e-3, 1e-6))
