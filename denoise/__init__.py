"""rawdenoise: denoise camera RAW files with small on-device models.

    import denoise

    d = denoise.Denoiser()                                  # the shipped bundle on ONNX Runtime
    d.denoise_file("IMG_0001.DNG", "IMG_0001_clean.dng")    # noise from the file's metadata
    raw = denoise.read_raw("IMG_0002.NEF")
    clean = d.denoise_mosaic(raw.mosaic, raw.pattern, denoise.estimate_noise(raw.mosaic, raw.pattern))

The names below load on first use, so ``import denoise`` costs next to nothing and never imports
torch; only the ``torch`` backend does.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Denoiser
    from .bundle import load_bundle
    from .noise import NoiseProfile
    from .noise_estimate import estimate_noise
    from .raw import RawImage, read_raw

_PUBLIC = {"Denoiser": "api", "load_bundle": "bundle", "NoiseProfile": "noise", "estimate_noise": "noise_estimate",
           "RawImage": "raw", "read_raw": "raw"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'denoise' has no attribute {name!r}")
    value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
