"""Tiled inference over packed planes: any image size through a model in bounded memory.

The image is cut into ``tile``×``tile`` windows (packed-plane pixels) stepping by ``tile − overlap``,
the last window of each axis flush with the border; each window goes through the model and the
outputs are blended with a separable window into float32 accumulators. Only ``batch`` windows are
ever in the model at once, so peak memory is the image (input, output, weight sum) plus
``batch × tile²`` activations.

The plan and the weights are plain integer arithmetic so that other implementations (the Java
core in ``android_demo``) reproduce them exactly:

* Canvas: the planes are reflect-padded at the bottom/right to ``n_pad = ceil(n / stride) · stride``
  per axis; all coordinates below are on that canvas.
* Windows per axis: the window length is ``t = min(tile, n_pad)``; starts are ``0, step, 2·step, …``
  (``step = tile − overlap``) while ``start + t < n_pad``, then one last start ``n_pad − t``. Every
  start is a multiple of ``stride`` (tile and overlap must be), so a strided model sees the same
  down-sampling grid in every window as on the whole image.
* Cores: neighbouring windows ``[s0, e0)`` and ``[s1, e1)`` split their overlap at
  ``c = (s1 + e0) // 2``; the cores (what each window owns) partition the canvas.
* Weights: along an axis a window's weight is 1 inside its core and crosses over linearly at each
  core boundary ``c`` that is not the canvas border, over ``[c − r, c + r)`` with
  ``r = overlap // 4``: the weight of the window that starts the core at ``c`` is, at pixel ``p``,
  ``clamp(2·(p − c + r) + 1, 0, 4r) / (4r)`` (a step at ``c`` when ``r = 0``); the window ending
  its core at ``c`` gets ``1 −`` that (``(4r − num) / (4r)``); where a window has both, it takes
  the smaller. The two cross-fades are complementary, so the weights sum to 1 wherever two
  windows meet. Axis weights are these exact fractions rounded once to float32; a window's 2-D
  weight is the float32 product of its row and column weights, and the accumulated output is
  divided by the accumulated weights.

So each window discards (weight 0) at least ``overlap // 2 − overlap // 4`` pixels next to each of
its inner edges, where zero padding inside the model corrupts its output; a model whose receptive
field radius (packed pixels) is within that margin gives exactly the whole-image result. The
default ``overlap = 32`` leaves an 8-pixel clean margin and a 16-pixel cross-fade, at a compute
overhead of (256/224)² ≈ 1.31 for 256 tiles. The U-Nets reach further than 8 pixels, but weakly:
tiled and whole-image outputs agree to 94–100 dB PSNR for a trained student and 114–120 dB for a
trained teacher (a = 1e-3 and 1e-2; 114–122 / 133–139 dB with overlap 64), and by 116 / 167 dB for
the random-weight models of ``tests/test_tiling.py`` (which requires at least 60 dB).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:  # the runners import torch; tiling itself does not need it
    from .backends import Runner

DEFAULT_TILE = 256
DEFAULT_OVERLAP = 32
DEFAULT_BATCH = 4  # windows per runner call for runners that state no preferred_batch


class TilingError(ValueError):
    """Tiling parameters or arrays that cannot be tiled (bad sizes, shapes or model output)."""


@dataclass(frozen=True)
class Span:
    """One window along one axis: ``[start, end)`` is what the model sees, ``[core_start, core_end)`` what it owns."""

    start: int
    end: int
    core_start: int
    core_end: int


@dataclass(frozen=True)
class Tile:
    """One window of the padded canvas (packed-plane pixels): model input region and owned core."""

    y0: int
    x0: int
    y1: int
    x1: int
    cy0: int
    cx0: int
    cy1: int
    cx1: int

    @property
    def rows(self) -> Span:
        return Span(self.y0, self.y1, self.cy0, self.cy1)

    @property
    def cols(self) -> Span:
        return Span(self.x0, self.x1, self.cx0, self.cx1)


def padded_size(n: int, stride: int) -> int:
    """``n`` rounded up to a multiple of ``stride``: the canvas length the tiles cover."""
    return -(-n // stride) * stride


def _check_params(tile: int, overlap: int, stride: int) -> None:
    if stride < 1:
        raise TilingError(f"model stride must be >= 1, got {stride}")
    if tile < stride or tile % stride:
        raise TilingError(f"tile {tile} must be a positive multiple of the model stride {stride}")
    if overlap < 0 or overlap % stride:
        raise TilingError(f"overlap {overlap} must be a non-negative multiple of the model stride {stride}")
    if overlap >= tile:
        raise TilingError(f"overlap {overlap} must be smaller than the tile {tile}")


def plan_axis(n: int, tile: int, overlap: int, stride: int) -> list[Span]:
    """The windows along one axis of length ``n`` (see the module docstring for the rule)."""
    _check_params(tile, overlap, stride)
    if n < 1:
        raise TilingError(f"cannot tile an empty axis (length {n})")
    n_pad = padded_size(n, stride)
    t = min(tile, n_pad)
    starts = []
    s = 0
    while s + t < n_pad:
        starts.append(s)
        s += tile - overlap
    starts.append(n_pad - t)
    cuts = [0] + [(s1 + s0 + t) // 2 for s0, s1 in zip(starts, starts[1:])] + [n_pad]
    return [Span(s, s + t, cuts[i], cuts[i + 1]) for i, s in enumerate(starts)]


def plan_tiles(h: int, w: int, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
               stride: int = 1) -> list[Tile]:
    """Windows covering an ``h``×``w`` image padded to multiples of ``stride``, in row-major order."""
    rows = plan_axis(h, tile, overlap, stride)
    cols = plan_axis(w, tile, overlap, stride)
    return [Tile(r.start, c.start, r.end, c.end, r.core_start, c.core_start, r.core_end, c.core_end)
            for r in rows for c in cols]


def axis_weights(span: Span, overlap: int) -> np.ndarray:
    """(end − start,) float32 blend weights of one window along one axis."""
    r = overlap // 4
    p = np.arange(span.start, span.end, dtype=np.int64)
    w = np.ones(p.shape, dtype=np.float64)
    if span.core_start > span.start:  # cross-fade in from the previous window
        w = np.minimum(w, _fade_in(p, span.core_start, r))
    if span.core_end < span.end:  # cross-fade out to the next window
        w = np.minimum(w, 1.0 - _fade_in(p, span.core_end, r))
    return w.astype(np.float32)


def _fade_in(p: np.ndarray, c: int, r: int) -> np.ndarray:
    if r == 0:
        return (p >= c).astype(np.float64)
    return np.clip(2 * (p - c + r) + 1, 0, 4 * r) / (4 * r)


def blend_weights(tile: Tile, overlap: int) -> np.ndarray:
    """(rows, cols) float32 separable blend window of one tile (outer product of its axis weights)."""
    return np.outer(axis_weights(tile.rows, overlap), axis_weights(tile.cols, overlap))


def denoise_planes(runner: Runner, planes: np.ndarray, noise: np.ndarray, tile: int = DEFAULT_TILE,
                   overlap: int = DEFAULT_OVERLAP, batch: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Run ``runner`` over (4, h, w) float32 packed planes tile by tile; returns (4, h, w) float32.

    ``noise`` is the (8,) model noise vector (``NoiseProfile.as_vector()``). ``batch`` windows go
    through the runner per call; by default the runner's ``preferred_batch`` (else 4). ``progress``
    is called as ``progress(tiles_done, tiles_total)`` after each batch.

    The result is, bit for bit, the weighted sum of the windows' outputs divided by the summed
    weights, accumulated in float32 in row-major window order — but only where two or more windows
    have a non-zero weight. Everywhere else a single window has weight exactly 1, so its output
    is copied as is; the padded canvas is never built (windows are read through a reflection index
    of the planes) and nothing is accumulated outside the image.
    """
    planes = np.asarray(planes)
    if planes.ndim != 3 or planes.shape[0] != 4:
        raise TilingError(f"expected packed planes of shape (4, h, w), got {planes.shape}")
    noise_vec = np.asarray(noise, dtype=np.float32).reshape(-1)
    if noise_vec.shape != (8,):
        raise TilingError(f"expected an (8,) noise vector [a x4, b x4], got shape {np.shape(noise)}")
    if batch is None:
        batch = int(getattr(runner, "preferred_batch", DEFAULT_BATCH))
    if batch < 1:
        raise TilingError(f"batch must be >= 1, got {batch}")
    stride = int(runner.stride)
    _, h, w = planes.shape
    rows = _AxisBlend(plan_axis(h, tile, overlap, stride), overlap, h)
    cols = _AxisBlend(plan_axis(w, tile, overlap, stride), overlap, w)
    windows = [(i, j) for i in range(len(rows.spans)) for j in range(len(cols.spans))]
    out = np.zeros((4, h, w), dtype=np.float32)
    weight_sum = np.zeros((h, w), dtype=np.float32)   # written only where windows overlap
    inputs = np.empty((min(batch, len(windows)), 4, rows.length, cols.length), dtype=np.float32)
    for first in range(0, len(windows), batch):
        group = windows[first:first + batch]
        for k, (i, j) in enumerate(group):
            _read_window(planes, rows, i, cols, j, inputs[k])
        outputs = runner(inputs[:len(group)], np.tile(noise_vec, (len(group), 1)))
        if outputs.shape != (len(group), *inputs.shape[1:]):
            raise TilingError(f"model returned shape {outputs.shape} for input {(len(group), *inputs.shape[1:])}; "
                              "a denoiser must return planes of its input's shape")
        for (i, j), result in zip(group, outputs):
            _blend_window(out, weight_sum, result, rows, i, cols, j)
        if progress is not None:
            progress(first + len(group), len(windows))
    for (r0, r1), (c0, c1) in _shared_regions(rows, cols):
        out[:, r0:r1, c0:c1] /= weight_sum[r0:r1, c0:c1]
    return out


class _AxisBlend:
    """The windows along one axis with what blending needs, computed once per axis.

    ``weights[k]`` are the window's axis weights; on the image (positions ``< n``), ``live[k]``
    is where that weight is non-zero and ``solo[k]`` the part of it no other window reaches —
    there the weight is exactly 1 (a weight below 1 only occurs in a cross-fade, which the
    neighbouring window shares). ``source`` maps canvas positions to plane positions (the
    reflect padding), ``shared`` and ``alone`` the runs of positions reached by two or more windows
    and by exactly one.
    """

    def __init__(self, spans: list[Span], overlap: int, n: int) -> None:
        self.spans = spans
        self.n = n
        self.length = spans[0].end - spans[0].start
        self.weights = [axis_weights(s, overlap) for s in spans]
        n_pad = spans[-1].end
        self.source = np.pad(np.arange(n), (0, n_pad - n), mode="reflect")
        live = []
        for s, wgt in zip(spans, self.weights):
            nonzero = np.flatnonzero(wgt)
            live.append((s.start + int(nonzero[0]), s.start + int(nonzero[-1]) + 1))
        covered = np.zeros(n_pad + 1, dtype=np.int64)
        for lo, hi in live:
            covered[lo] += 1
            covered[hi] -= 1
        count = np.cumsum(covered[:n])
        self.live = [(min(lo, n), min(hi, n)) for lo, hi in live]
        self.solo = []
        for lo, hi in self.live:
            alone = np.flatnonzero(count[lo:hi] == 1)
            self.solo.append((lo + int(alone[0]), lo + int(alone[-1]) + 1) if alone.size else (lo, lo))
        self.shared = _runs(count > 1)
        self.alone = _runs(count == 1)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of True in a 1-D boolean mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _read_window(planes: np.ndarray, rows: _AxisBlend, i: int, cols: _AxisBlend, j: int, dest: np.ndarray) -> None:
    """Copy window (i, j) of the reflect-padded canvas into ``dest`` without building the canvas."""
    r, c = rows.spans[i], cols.spans[j]
    hh, ww = min(r.end, rows.n) - r.start, min(c.end, cols.n) - c.start   # the part inside the planes
    dest[:, :hh, :ww] = planes[:, r.start:r.start + hh, c.start:c.start + ww]
    pad_rows, pad_cols = rows.source[r.start + hh:r.end], cols.source[c.start + ww:c.end]
    if pad_cols.size:
        dest[:, :hh, ww:] = planes[:, r.start:r.start + hh][:, :, pad_cols]
    if pad_rows.size:
        dest[:, hh:, :ww] = planes[:, pad_rows, c.start:c.start + ww]
        dest[:, hh:, ww:] = planes[:, pad_rows[:, None], pad_cols[None, :]]


def _blend_window(out: np.ndarray, weight_sum: np.ndarray, result: np.ndarray, rows: _AxisBlend, i: int,
                  cols: _AxisBlend, j: int) -> None:
    """Add window (i, j)'s output: copied where it is alone, weighted and accumulated where it is not."""
    (r0, r1), (s0, s1) = rows.live[i], rows.solo[i]
    (c0, c1), (t0, t1) = cols.live[j], cols.solo[j]
    y, x = rows.spans[i].start, cols.spans[j].start
    out[:, s0:s1, t0:t1] = result[:, s0 - y:s1 - y, t0 - x:t1 - x]
    wr, wc = rows.weights[i], cols.weights[j]
    for (a, b), (c, d) in (((r0, s0), (c0, c1)), ((s1, r1), (c0, c1)), ((s0, s1), (c0, t0)), ((s0, s1), (t1, c1))):
        if a < b and c < d:
            wgt = np.outer(wr[a - y:b - y], wc[c - x:d - x])
            out[:, a:b, c:d] += result[:, a - y:b - y, c - x:d - x] * wgt
            weight_sum[a:b, c:d] += wgt


def _shared_regions(rows: _AxisBlend, cols: _AxisBlend) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Rectangles, each pixel once, covering every pixel that two or more windows reach."""
    return [(r, (0, cols.n)) for r in rows.shared] + [(r, c) for r in rows.alone for c in cols.shared]
