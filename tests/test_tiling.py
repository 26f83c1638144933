"""Tiled inference reproduces whole-image inference: exactly when the overlap covers the receptive
field, to > 60 dB for the shipped U-Nets at the default tile/overlap, for any image size."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from denoise.backends import TorchRunner
from denoise.cfa import pack_rggb
from denoise.models import build_model
from denoise.noise import NoiseProfile, log_linear_b
from training.noise_synthesis import add_noise
from training.synth import clean_raw, procedural_scene
from denoise.tiling import (DEFAULT_OVERLAP, DEFAULT_TILE, Span, TilingError, axis_weights, blend_weights,
                            denoise_planes, padded_size, plan_axis, plan_tiles)

NOISE = NoiseProfile.uniform(1e-2, float(log_linear_b(1e-2)))


class ConvStack(nn.Module):
    """Stride-1 model: four 3×3 convs (receptive radius 4), conditioned on the noise vector."""

    stride = 1

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(8, 8, 3, padding=1),
                                  nn.LeakyReLU(0.1), nn.Conv2d(8, 8, 3, padding=1), nn.LeakyReLU(0.1),
                                  nn.Conv2d(8, 4, 3, padding=1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * noise[:, :4].sqrt().reshape(-1, 4, 1, 1)


class TinyUNet(nn.Module):
    """Stride-8 model like the shipped ones: strided-conv downs, bilinear ups, skip connections."""

    stride = 8

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        conv = lambda cin, cout: nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.1))  # noqa: E731
        self.encoders = nn.ModuleList([conv(4, width), conv(width, width), conv(width, width), conv(width, width)])
        self.downs = nn.ModuleList(nn.Conv2d(width, width, 2, stride=2) for _ in range(3))
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.decoders = nn.ModuleList(conv(width, width) for _ in range(3))
        self.head = nn.Conv2d(width, 4, 1)

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        h = x / noise[:, 4:].mean(dim=1).sqrt().reshape(-1, 1, 1, 1)
        skips = []
        for i, enc in enumerate(self.encoders):
            h = enc(h)
            if i < 3:
                skips.append(h)
                h = self.downs[i](h)
        for i in reversed(range(3)):
            h = self.decoders[i](self.up(h) + skips[i])
        return x + self.head(h)


def _seeded(model_cls: type[nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return model_cls()


def receptive_radius(model: nn.Module, size: int = 192) -> int:
    """How far (packed pixels) outputs reach into the input, over every phase of the stride grid."""
    stride = model.stride
    x = torch.randn(1, 4, size, size, requires_grad=True)
    c = size // 2 // stride * stride
    model(x, torch.full((1, 8), 1e-2))[..., c:c + stride, c:c + stride].sum().backward()
    ys, xs = np.nonzero(x.grad.abs().sum(dim=(0, 1)).numpy())
    assert ys.min() > 0 and xs.min() > 0 and ys.max() < size - 1 and xs.max() < size - 1, "probe image too small"
    return int(max(c - ys.min(), ys.max() - (c + stride - 1), c - xs.min(), xs.max() - (c + stride - 1)))


def covering_overlap(radius: int, stride: int) -> int:
    """Smallest stride-multiple overlap whose clean margin (overlap//2 − overlap//4) covers ``radius``."""
    overlap = stride
    while overlap // 2 - overlap // 4 < radius:
        overlap += stride
    return overlap


def whole_image(runner: TorchRunner, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Reference: the whole (reflect-padded) image through the model in one call."""
    _, h, w = planes.shape
    s = runner.stride
    padded = np.pad(planes, ((0, 0), (0, padded_size(h, s) - h), (0, padded_size(w, s) - w)), mode="reflect")
    return runner(padded[None], noise[None])[0][:, :h, :w]


def noisy_planes(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clean = rng.uniform(0.05, 0.6, size=(4, h, w)).astype(np.float32)
    return add_noise(clean, NOISE, rng)


@pytest.fixture(scope="module")
def scene_planes() -> np.ndarray:
    """480×480 packed planes of a noisy procedural scene (two windows per axis at the defaults)."""
    rng = np.random.default_rng(7)
    mosaic, _ = clean_raw(procedural_scene(960, 7), rng)
    return add_noise(pack_rggb(mosaic), NOISE, rng)


def test_plan_matches_the_documented_rule() -> None:
    # The rule the Java core reproduces: n=500 → canvas 504, starts 0, 224, then flush at 248.
    assert plan_axis(500, 256, 32, 8) == [Span(0, 256, 0, 240), Span(224, 480, 240, 364), Span(248, 504, 364, 504)]
    assert plan_axis(5, 256, 32, 8) == [Span(0, 8, 0, 8)]
    tiles = plan_tiles(500, 5, 256, 32, 8)
    assert [(t.y0, t.y1, t.x0, t.x1) for t in tiles] == [(0, 256, 0, 8), (224, 480, 0, 8), (248, 504, 0, 8)]


@pytest.mark.parametrize("n,tile,overlap,stride", [(1, 16, 8, 8), (37, 16, 8, 8), (1000, 256, 32, 8),
                                                   (333, 64, 17, 1), (777, 128, 0, 16), (95, 32, 16, 1)])
def test_plan_covers_the_canvas_with_aligned_equal_windows(n: int, tile: int, overlap: int, stride: int) -> None:
    spans = plan_axis(n, tile, overlap, stride)
    n_pad = padded_size(n, stride)
    lengths = {s.end - s.start for s in spans}
    assert lengths == {min(tile, n_pad)}
    assert spans[0].start == 0 and spans[-1].end == n_pad
    assert all(s.start % stride == 0 for s in spans)
    assert all(s1.start - s0.start == tile - overlap for s0, s1 in zip(spans[:-1], spans[1:-1]))
    # Cores partition the canvas and lie inside their windows.
    assert spans[0].core_start == 0 and spans[-1].core_end == n_pad
    assert all(s0.core_end == s1.core_start for s0, s1 in zip(spans, spans[1:]))
    assert all(s.start <= s.core_start < s.core_end <= s.end for s in spans)


@pytest.mark.parametrize("n,overlap", [(500, 32), (1000, 32), (300, 64), (700, 8), (480, 0), (260, 32)])
def test_weights_cross_fade_to_one_and_skip_inner_edges(n: int, overlap: int) -> None:
    spans = plan_axis(n, 256, overlap, 8)
    n_pad = padded_size(n, 8)
    total = np.zeros(n_pad)
    covering = np.zeros(n_pad, dtype=int)
    margin = overlap // 2 - overlap // 4
    for s in spans:
        w = axis_weights(s, overlap)
        assert w.dtype == np.float32 and w.min() >= 0 and w.max() <= 1
        assert np.all(w[s.core_start - s.start:s.core_end - s.start] > 0)  # positive on the whole core
        if s.start > 0:
            assert np.all(w[:margin] == 0)  # the corrupted inner border is never used
        else:
            assert w[0] == 1  # image border: full weight
        if s.end < n_pad:
            assert np.all(w[len(w) - margin:] == 0)
        else:
            assert w[-1] == 1
        total[s.start:s.end] += w
        covering[s.start:s.end] += 1
    assert total.min() > 0
    two_windows = covering <= 2
    np.testing.assert_allclose(total[two_windows], 1.0, atol=1e-6)


def test_fade_values_are_the_documented_integers() -> None:
    # Window [224, 480) owning [240, 364), overlap 32 → r = 8, ramps over [232, 248) and [356, 372).
    w = axis_weights(Span(224, 480, 240, 364), 32).astype(np.float64)
    at = lambda p: w[p - 224]  # noqa: E731
    assert (at(231), at(232), at(247), at(248)) == (0.0, np.float32(1 / 32), np.float32(31 / 32), 1.0)
    assert (at(355), at(356), at(371), at(372)) == (1.0, np.float32(31 / 32), np.float32(1 / 32), 0.0)
    tile = plan_tiles(480, 480, 256, 32, 8)[3]
    np.testing.assert_array_equal(blend_weights(tile, 32), np.outer(axis_weights(tile.rows, 32),
                                                                    axis_weights(tile.cols, 32)))


@pytest.mark.parametrize("model_cls,shape", [(ConvStack, (45, 77)), (ConvStack, (64, 33)),
                                             (TinyUNet, (203, 331)), (TinyUNet, (300, 211))])
def test_tiled_equals_whole_image_when_overlap_covers_receptive_field(model_cls: type[nn.Module],
                                                                      shape: tuple[int, int]) -> None:
    model = _seeded(model_cls)
    radius = receptive_radius(model)
    overlap = covering_overlap(radius, model.stride)
    tile = overlap * 3 // 2 // model.stride * model.stride
    assert len(plan_tiles(*shape, tile, overlap, model.stride)) >= 4  # really tiled, in both axes
    runner = TorchRunner(model, "cpu")
    planes, noise = noisy_planes(*shape, seed=1), NOISE.as_vector()
    reference = whole_image(runner, planes, noise)
    for batch in (1, 3):
        tiled = denoise_planes(runner, planes, noise, tile=tile, overlap=overlap, batch=batch)
        err = float(np.abs(tiled - reference).max())
        print(f"\n{model_cls.__name__} {shape} radius={radius} tile={tile} overlap={overlap} batch={batch}: "
              f"max|tiled-whole|={err:.2e}")
        assert tiled.shape == planes.shape and tiled.dtype == np.float32
        assert err <= 1e-5
    # Abutting tiles without overlap show seams: the comparison above can fail.
    seamed = denoise_planes(runner, planes, noise, tile=tile - overlap, overlap=0)
    assert np.abs(seamed - reference).max() > 1e-3


@pytest.mark.parametrize("arch,rows", [("feature_align", 480), ("teacher", 128)])
def test_shipped_models_tile_within_60db_at_defaults(scene_planes: np.ndarray, arch: str, rows: int) -> None:
    torch.manual_seed(0)
    runner = TorchRunner(build_model(arch), "cpu")
    planes = np.ascontiguousarray(scene_planes[:, :rows])
    noise = NOISE.as_vector()
    reference = whole_image(runner, planes, noise)
    tiled = denoise_planes(runner, planes, noise)
    assert len(plan_tiles(*planes.shape[1:], DEFAULT_TILE, DEFAULT_OVERLAP, runner.stride)) > 1
    psnr = 10 * np.log10(1.0 / np.mean((tiled.astype(np.float64) - reference) ** 2))
    change = float(np.abs(reference - planes).mean())
    print(f"\n{arch} {planes.shape} tile={DEFAULT_TILE} overlap={DEFAULT_OVERLAP}: tiled vs whole "
          f"PSNR={psnr:.1f} dB, max|diff|={np.abs(tiled - reference).max():.2e} (model changes input by {change:.3g})")
    assert change > 1e-3  # the model really acts on the image, so a seam could show
    assert psnr >= 60.0


@pytest.mark.parametrize("shape", [(5, 7), (1, 1), (2, 3), (8, 8)])
def test_images_smaller_than_a_tile_are_padded_not_refused(shape: tuple[int, int]) -> None:
    runner = TorchRunner(_seeded(TinyUNet), "cpu")
    planes, noise = noisy_planes(*shape, seed=2), NOISE.as_vector()
    tiled = denoise_planes(runner, planes, noise)
    assert tiled.shape == planes.shape
    np.testing.assert_allclose(tiled, whole_image(runner, planes, noise), atol=1e-6)


def test_progress_reports_every_batch() -> None:
    calls: list[tuple[int, int]] = []
    runner = TorchRunner(_seeded(ConvStack), "cpu")
    denoise_planes(runner, noisy_planes(40, 40, seed=3), NOISE.as_vector(), tile=16, overlap=8, batch=4,
                   progress=lambda done, total: calls.append((done, total)))
    total = len(plan_tiles(40, 40, 16, 8, 1))
    assert calls == [(min(i + 4, total), total) for i in range(0, total, 4)]


def test_input_is_not_modified() -> None:
    planes = noisy_planes(30, 50, seed=4)
    before = planes.copy()
    denoise_planes(TorchRunner(_seeded(ConvStack), "cpu"), planes, NOISE.as_vector(), tile=16, overlap=8)
    np.testing.assert_array_equal(planes, before)


@pytest.mark.parametrize("kwargs,match", [({"tile": 100}, "multiple of the model stride"),
                                          ({"overlap": 12}, "multiple of the model stride"),
                                          ({"tile": 64, "overlap": 64}, "smaller than the tile"),
                                          ({"batch": 0}, "batch")])
def test_bad_parameters_are_refused(kwargs: dict, match: str) -> None:
    runner = TorchRunner(_seeded(TinyUNet), "cpu")
    with pytest.raises(TilingError, match=match):
        denoise_planes(runner, noisy_planes(20, 20, seed=5), NOISE.as_vector(), **kwargs)


def test_bad_arrays_are_refused() -> None:
    runner = TorchRunner(_seeded(ConvStack), "cpu")
    with pytest.raises(TilingError, match=r"\(4, h, w\)"):
        denoise_planes(runner, np.zeros((3, 8, 8), np.float32), NOISE.as_vector())
    with pytest.raises(TilingError, match=r"\(8,\) noise"):
        denoise_planes(runner, np.zeros((4, 8, 8), np.float32), np.zeros(4, np.float32))

    class Cropping:
        stride = 1

        def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
            return planes[..., 1:, :]

    with pytest.raises(TilingError, match="shape"):
        denoise_planes(Cropping(), np.zeros((4, 8, 8), np.float32), NOISE.as_vector())
