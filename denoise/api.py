"""The one-object Python API: a :class:`Denoiser` holds a model (by default the shipped bundle on
ONNX Runtime) and denoises files or mosaics already in memory, the way ``denoise run`` does."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .noise import NoiseProfile
from .pipeline import Model, denoise_mosaic, denoise_raw, model_from_bundle, resolve_noise
from .raw import read_raw
from .writers import check_output_path, plan_outputs, write_output


class Denoiser:
    """A loaded model, ready to denoise many images.

    ``bundle`` is a bundle folder or ``.zip`` (default: the one shipped with the package);
    ``backend`` is which of its formats runs (:data:`denoise.backends.BACKENDS`: ``onnx`` fp32,
    ``fp16``, ``int8``, ``ort``, ``int8_ort`` on ONNX Runtime, or ``torch``, which needs the
    ``torch`` extra); ``device`` is ``auto``, ``cpu``, ``cuda`` or ``mps``. Each specialist's
    session is created on first use and kept.
    """

    def __init__(self, bundle: str | os.PathLike | None = None, backend: str = "onnx", device: str = "auto",
                 tile: int | None = None, overlap: int | None = None) -> None:
        self.model: Model = model_from_bundle(bundle, backend=backend, device=device)
        self.tile, self.overlap = tile, overlap

    def denoise_file(self, path: str | os.PathLike, out: str | os.PathLike, fmt: str | None = None,
                     noise: str | NoiseProfile = "auto") -> Path:
        """Denoise one RAW file; returns the path written.

        ``out`` is a file name whose extension picks the format (``.dng``, ``.tif``, ``.png``,
        ``.jpg``, ``.npy``) or a folder (``<stem>_denoised.<fmt>``, DNG by default), exactly as
        ``denoise run -o``. ``noise`` is ``"auto"`` (the file's NoiseProfile, else a blind
        estimate), ``"estimate"``, ``"a,b"`` or a :class:`NoiseProfile`.
        """
        item = plan_outputs([path], out, fmt)[0]
        target = check_output_path(item.input, item.output)
        raw = read_raw(item.input)
        denoised, _ = denoise_raw(raw, self.model, resolve_noise(raw, noise), self.tile, self.overlap)
        return write_output(raw, denoised, target, item.fmt)

    def denoise_mosaic(self, mosaic: np.ndarray, cfa: str, noise: NoiseProfile | str) -> np.ndarray:
        """Denoise an (H, W) Bayer mosaic already normalized (0 = black, 1 = white; values below 0
        kept) in phase ``cfa`` (``RGGB``, ``BGGR``, ``GRBG``, ``GBRG``); returns the same shape.

        ``noise`` is a :class:`NoiseProfile` or ``"a,b"`` / eight values on that scale.
        """
        profile = noise if isinstance(noise, NoiseProfile) else NoiseProfile.parse(noise)
        denoised, _ = denoise_mosaic(mosaic, cfa, self.model, profile, self.tile, self.overlap)
        return denoised
