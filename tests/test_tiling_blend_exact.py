"""The fast tiling engine gives, bit for bit, what the documented contract computes: pad the planes
(reflect) to the canvas, accumulate every window's output times its blend window in row-major order,
divide by the summed weights, crop. The Java core implements that contract literally, so any
difference here would be a drift between the platforms."""
from __future__ import annotations

import numpy as np
import pytest

from denoise.tiling import blend_weights, denoise_planes, padded_size, plan_tiles


class WindowDependentModel:
    """Output depends on the window's content and position in the batch, and on every call."""

    def __init__(self, stride: int) -> None:
        self.stride = stride
        self.calls = 0

    def __call__(self, planes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        self.calls += 1
        ramp = np.arange(planes.shape[0], dtype=np.float32).reshape(-1, 1, 1, 1)
        return (planes * np.float32(1.3) + planes[:, :, :1, :1] + ramp * np.float32(0.01 * self.calls)
                + noise[:, :4, None, None])


def contract_reference(runner: WindowDependentModel, planes: np.ndarray, noise: np.ndarray, tile: int,
                       overlap: int, batch: int) -> np.ndarray:
    """The contract as written in ``denoise.tiling``'s docstring, with nothing skipped."""
    _, h, w = planes.shape
    tiles = plan_tiles(h, w, tile, overlap, runner.stride)
    h_pad, w_pad = padded_size(h, runner.stride), padded_size(w, runner.stride)
    canvas = np.pad(planes, ((0, 0), (0, h_pad - h), (0, w_pad - w)), mode="reflect")
    acc = np.zeros(canvas.shape, dtype=np.float32)
    weight_sum = np.zeros(canvas.shape[1:], dtype=np.float32)
    for first in range(0, len(tiles), batch):
        group = tiles[first:first + batch]
        outputs = runner(np.stack([canvas[:, t.y0:t.y1, t.x0:t.x1] for t in group]), np.tile(noise, (len(group), 1)))
        for t, out in zip(group, outputs):
            wgt = blend_weights(t, overlap)
            acc[:, t.y0:t.y1, t.x0:t.x1] += out * wgt
            weight_sum[t.y0:t.y1, t.x0:t.x1] += wgt
    return (acc / weight_sum)[:, :h, :w]


def _random_configs(count: int, seed: int = 0) -> list[tuple[int, int, int, int, int, int]]:
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(count):
        stride = int(rng.choice([1, 2, 4, 8]))
        tile = stride * int(rng.integers(1, 10))
        overlap = stride * int(rng.integers(0, tile // stride))
        h, w = (int(v) for v in rng.integers(1, 60, size=2))
        configs.append((h, w, tile, overlap, stride, int(rng.integers(1, 6))))
    return configs


@pytest.mark.parametrize("h,w,tile,overlap,stride,batch", [
    (50, 70, 16, 8, 4, 3),     # several windows per axis, cross-fades of 4 pixels
    (37, 29, 16, 12, 4, 2),    # overlap close to the tile: short cores, fades from both sides
    (3, 61, 16, 8, 8, 1),      # one row of windows, reflect padding larger than the image
    (1, 1, 8, 0, 8, 4),        # a single pixel
    (40, 40, 8, 0, 1, 5),      # no overlap: the windows only abut
    *_random_configs(120),
])
def test_fast_blending_is_the_contract_bit_for_bit(h: int, w: int, tile: int, overlap: int, stride: int,
                                                   batch: int) -> None:
    rng = np.random.default_rng(h * 1000 + w)
    planes = rng.normal(0.2, 0.1, size=(4, h, w)).astype(np.float32)
    noise = rng.uniform(1e-4, 1e-2, size=8).astype(np.float32)
    expected = contract_reference(WindowDependentModel(stride), planes, noise, tile, overlap, batch)
    got = denoise_planes(WindowDependentModel(stride), planes, noise, tile, overlap, batch)
    assert got.shape == (4, h, w) and got.dtype == np.float32 and got.flags.c_contiguous
    assert got.tobytes() == expected.tobytes()


def test_twelve_megapixel_planes_match_the_contract_at_the_default_settings() -> None:
    """The shipped tile/overlap on a 4000x3000 frame (a 1500x2000 packed canvas, stride 8)."""
    planes = np.random.default_rng(1).random((4, 1500, 2000), dtype=np.float32)
    noise = np.full(8, 1e-3, dtype=np.float32)
    expected = contract_reference(WindowDependentModel(8), planes, noise, 256, 32, 4)
    assert denoise_planes(WindowDependentModel(8), planes, noise).tobytes() == expected.tobytes()
