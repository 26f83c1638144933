"""Bayer layouts: one canonical RGGB inside the SDK, every other phase restored exactly on output.

A mosaic whose top-left 2×2 is not RGGB is brought to RGGB by reflect-padding one row and/or
column in front (the padded line repeats the line two away, so it has the right colour phase),
and to even size by reflect-padding at the end. :class:`Canonical` remembers the pads so that
``to_original`` crops them off again — bit-exact, any size, any phase.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAYER_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
# Where R sits in the 2x2 tile of each phase: (row, col).
_R_OFFSET = {"RGGB": (0, 0), "GRBG": (0, 1), "GBRG": (1, 0), "BGGR": (1, 1)}


class CFAError(ValueError):
    """A colour filter array the SDK cannot turn into RGGB planes (not a 2×2 Bayer pattern)."""


def pattern_from_codes(codes: np.ndarray, color_desc: str = "RGBG") -> str:
    """Name a 2×2 Bayer pattern from per-pixel colour indices (rawpy ``raw_pattern``/``color_desc``).

    ``color_desc`` maps index → letter; LibRaw uses 'RGBG' (index 3 is the second green).
    """
    codes = np.asarray(codes)
    if codes.shape != (2, 2):
        raise CFAError(f"CFA repeat pattern is {codes.shape[0]}x{codes.shape[1]}, not a 2x2 Bayer "
                       "pattern (X-Trans and other layouts are not supported)")
    letters = "".join(color_desc[int(c)] if 0 <= int(c) < len(color_desc) else "?" for c in codes.ravel())
    name = letters.replace("E", "G")
    if name not in BAYER_PATTERNS:
        raise CFAError(f"CFA pattern {letters!r} is not a Bayer RGGB/BGGR/GRBG/GBRG layout")
    return name


@dataclass(frozen=True)
class Canonical:
    """How a mosaic of ``shape`` and ``pattern`` was padded to an even RGGB mosaic."""

    pattern: str
    shape: tuple[int, int]
    top: int
    left: int
    bottom: int
    right: int

    def to_original(self, rggb: np.ndarray) -> np.ndarray:
        """Crop a canonical (…, H', W') mosaic back to the original phase and size."""
        h, w = self.shape
        return rggb[..., self.top:self.top + h, self.left:self.left + w]


def to_rggb(mosaic: np.ndarray, pattern: str) -> tuple[np.ndarray, Canonical]:
    """Pad a (H, W) Bayer mosaic of any phase and size to an even-sized RGGB mosaic."""
    if pattern not in BAYER_PATTERNS:
        raise CFAError(f"unknown Bayer pattern {pattern!r}; expected one of {BAYER_PATTERNS}")
    if mosaic.ndim != 2:
        raise CFAError(f"a Bayer mosaic is 2-D, got shape {mosaic.shape}")
    h, w = mosaic.shape
    if h < 3 or w < 3:
        raise CFAError(f"mosaic {h}x{w} is too small (needs at least 3x3 pixels)")
    top, left = _R_OFFSET[pattern]
    bottom = (h + top) % 2
    right = (w + left) % 2
    if top or left or bottom or right:
        mosaic = np.pad(mosaic, ((top, bottom), (left, right)), mode="reflect")
    return mosaic, Canonical(pattern, (h, w), top, left, bottom, right)


def pack_rggb(mosaic: np.ndarray) -> np.ndarray:
    """(…, H, W) RGGB mosaic with even H, W → (…, 4, H/2, W/2) planes R, G1, G2, B."""
    h, w = mosaic.shape[-2:]
    if h % 2 or w % 2:
        raise CFAError(f"packing needs an even-sized RGGB mosaic, got {h}x{w}")
    return np.stack([mosaic[..., 0::2, 0::2], mosaic[..., 0::2, 1::2],
                     mosaic[..., 1::2, 0::2], mosaic[..., 1::2, 1::2]], axis=-3)


def unpack_rggb(planes: np.ndarray) -> np.ndarray:
    """(…, 4, h, w) planes R, G1, G2, B → (…, 2h, 2w) RGGB mosaic (inverse of :func:`pack_rggb`)."""
    if planes.shape[-3] != 4:
        raise CFAError(f"expected 4 packed planes, got {planes.shape[-3]}")
    h, w = planes.shape[-2:]
    out = np.empty(planes.shape[:-3] + (2 * h, 2 * w), dtype=planes.dtype)
    out[..., 0::2, 0::2] = planes[..., 0, :, :]
    out[..., 0::2, 1::2] = planes[..., 1, :, :]
    out[..., 1::2, 0::2] = planes[..., 2, :, :]
    out[..., 1::2, 1::2] = planes[..., 3, :, :]
    return out


def plane_of_pixel(pattern: str) -> np.ndarray:
    """2×2 array: index into R, G1, G2, B of each pixel of a tile in ``pattern``'s own phase."""
    top, left = _R_OFFSET[pattern]
    canon = np.array([[0, 1], [2, 3]])
    return np.roll(canon, shift=(top, left), axis=(0, 1))
