"""A small fixed ISP: RGGB mosaic → sRGB, the exact forward of :func:`training.synth.unprocess`.

Used for previews and for sRGB-space metrics, where clean and denoised mosaics go through the same
pipeline: bilinear demosaic, white balance (red/blue gains and the overall brightness gain that
unprocessing divided out), colour correction ``cam→sRGB = inv(rgb2cam)``, gamma 1/2.2 and the
smoothstep tone curve whose inverse unprocessing applied first. It is deliberately simple and
deterministic — a metric pipeline, not a photo editor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve


# Bilinear interpolation kernels; applied as normalized convolution, so known samples stay exact
# and borders need no special case.
_GREEN_KERNEL = np.array([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]])
_RED_BLUE_KERNEL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])


@dataclass(frozen=True)
class CameraParams:
    """What unprocessing chose, so the forward ISP (and DNG metadata) can undo it exactly."""

    rgb2cam: np.ndarray      # (3, 3), rows sum to 1: linear sRGB → camera RGB
    xyz2cam: np.ndarray      # (3, 3): the DNG ColorMatrix (XYZ → camera), rows normalized like rgb2cam
    red_gain: float          # white-balance gains applied by the forward ISP
    blue_gain: float
    brightness: float        # overall digital gain applied by the forward ISP

    @property
    def as_shot_neutral(self) -> tuple[float, float, float]:
        """DNG AsShotNeutral: camera response to white, relative to green."""
        return (1.0 / self.red_gain, 1.0, 1.0 / self.blue_gain)

    def to_json(self) -> dict:
        return {"rgb2cam": self.rgb2cam.tolist(), "xyz2cam": self.xyz2cam.tolist(), "red_gain": self.red_gain,
                "blue_gain": self.blue_gain, "brightness": self.brightness}


class RenderError(ValueError):
    """An input the ISP cannot render (not an even-sized 2-D RGGB mosaic, wrong channel count)."""


def _rggb_masks(h: int, w: int) -> np.ndarray:
    masks = np.zeros((3, h, w), dtype=np.float64)
    masks[0, 0::2, 0::2] = 1.0
    masks[1, 0::2, 1::2] = 1.0
    masks[1, 1::2, 0::2] = 1.0
    masks[2, 1::2, 1::2] = 1.0
    return masks


def demosaic_bilinear(mosaic: np.ndarray) -> np.ndarray:
    """(H, W) RGGB mosaic → (H, W, 3) camera RGB by bilinear interpolation of each colour."""
    if mosaic.ndim != 2 or mosaic.shape[0] % 2 or mosaic.shape[1] % 2:
        raise RenderError(f"demosaicing needs an even-sized 2-D RGGB mosaic, got shape {mosaic.shape}")
    x = mosaic.astype(np.float64)
    masks = _rggb_masks(*x.shape)
    out = np.empty(x.shape + (3,), dtype=np.float64)
    for c, kernel in enumerate((_RED_BLUE_KERNEL, _GREEN_KERNEL, _RED_BLUE_KERNEL)):
        num = convolve(x * masks[c], kernel, mode="mirror")
        den = convolve(masks[c], kernel, mode="mirror")
        out[..., c] = num / den
    return out.astype(np.float32)


def white_balance_gains(cam: CameraParams) -> np.ndarray:
    """(3,) per-channel gains of the forward ISP: white balance times the brightness gain."""
    return np.array([cam.red_gain, 1.0, cam.blue_gain]) * cam.brightness


def camera_rgb_to_srgb(rgb: np.ndarray, cam: CameraParams) -> np.ndarray:
    """(…, 3) linear camera RGB → (…, 3) display sRGB in [0, 1] (white balance, CCM, gamma, tone)."""
    if rgb.shape[-1] != 3:
        raise RenderError(f"camera RGB needs 3 channels in the last axis, got shape {rgb.shape}")
    x = np.clip(rgb.astype(np.float64) * white_balance_gains(cam), 0.0, 1.0)
    x = np.clip(x @ np.linalg.inv(cam.rgb2cam).T, 0.0, 1.0)
    x = np.maximum(x, 1e-8) ** (1.0 / 2.2)
    x = 3.0 * x * x - 2.0 * x ** 3  # smoothstep, the inverse of unprocessing's tone curve
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def render_mosaic(mosaic: np.ndarray, cam: CameraParams) -> np.ndarray:
    """(H, W) RGGB mosaic on the normalized scale → (H, W, 3) sRGB in [0, 1]."""
    return camera_rgb_to_srgb(demosaic_bilinear(mosaic), cam)
