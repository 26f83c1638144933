"""The metric ISP is the forward of synth.unprocess and its bilinear demosaic is exact where it should be."""
import numpy as np
import pytest

from denoise.render import RenderError, camera_rgb_to_srgb, demosaic_bilinear, render_mosaic
from training.synth import mosaic_rggb, random_camera, unprocess


def _muted_srgb(rng: np.random.Generator, h: int = 16, w: int = 16) -> np.ndarray:
    # Low-saturation mid-tones: unprocessing neither clips them nor spares them as highlights.
    gray = rng.uniform(0.1, 0.7, size=(h, w, 1))
    return np.clip(gray + rng.uniform(-0.05, 0.05, size=(h, w, 3)), 0, 1).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_render_inverts_unprocess_per_pixel(seed):
    rng = np.random.default_rng(seed)
    cam = random_camera(rng)
    srgb = _muted_srgb(rng)
    back = camera_rgb_to_srgb(unprocess(srgb, cam), cam)
    err = float(np.abs(back - srgb).max())
    print(f"seed {seed}: max |render(unprocess(x)) - x| = {err:.2e}")
    assert err < 1e-5


def test_neutral_grey_renders_neutral_through_the_mosaic():
    cam = random_camera(np.random.default_rng(5))
    srgb = np.full((8, 8, 3), 0.5, np.float32)
    out = render_mosaic(mosaic_rggb(unprocess(srgb, cam)), cam)
    np.testing.assert_allclose(out, 0.5, atol=2e-4)


def test_bilinear_demosaic_keeps_samples_and_reproduces_linear_ramps():
    yy, xx = np.mgrid[0:12, 0:16].astype(np.float64)
    rgb = np.stack([0.01 * xx + 0.02 * yy, 0.3 + 0.01 * yy, 0.5 - 0.01 * xx], axis=-1).astype(np.float32)
    mosaic = mosaic_rggb(rgb)
    out = demosaic_bilinear(mosaic)
    np.testing.assert_array_equal(out[0::2, 0::2, 0], mosaic[0::2, 0::2])      # samples are kept
    np.testing.assert_array_equal(out[1::2, 1::2, 2], mosaic[1::2, 1::2])
    np.testing.assert_allclose(out[2:-2, 2:-2], rgb[2:-2, 2:-2], atol=1e-6)    # ramps are exact inside


def test_smooth_scene_round_trip_psnr():
    rng = np.random.default_rng(9)
    cam = random_camera(rng)
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    srgb = np.stack([0.2 + 0.5 * xx, 0.3 + 0.3 * np.sin(3 * yy), 0.6 - 0.4 * xx * yy], axis=-1).astype(np.float32)
    out = render_mosaic(mosaic_rggb(unprocess(srgb, cam)), cam)
    psnr = 10 * np.log10(1 / np.mean((out - srgb) ** 2))
    print(f"smooth scene: unprocess -> mosaic -> render PSNR {psnr:.1f} dB")
    assert out.shape == srgb.shape and out.dtype == np.float32
    assert psnr > 45


def test_render_rejects_odd_or_3d_input():
    cam = random_camera(np.random.default_rng(0))
    with pytest.raises(RenderError, match="even-sized"):
        render_mosaic(np.zeros((7, 8), np.float32), cam)
    with pytest.raises(RenderError, match="3 channels"):
        camera_rgb_to_srgb(np.zeros((4, 4, 4), np.float32), cam)
