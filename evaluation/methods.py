"""Denoising methods behind one call, so every evaluation can compare them side by side.

A method maps noisy packed planes (4, h, w) and their :class:`NoiseProfile` to denoised planes.
Specs as given on the command line:

* ``noisy`` — the identity (the noisy input scored as is: the floor every method must beat);
* ``bm3d`` — BM3D through the generalized Anscombe transform (:mod:`evaluation.bm3d_vst`);
* ``model:PATH`` — a torch checkpoint, run tiled exactly as ``denoise run`` runs it;
* ``bundle:PATH`` or ``bundle:PATH:BACKEND`` — a deployment bundle: the selector picks the
  specialist for each image's noise level, run with ONNX Runtime fp32 (default), one of the
  bundle's other ONNX Runtime formats (``int8``, ``fp16``, ``ort``) or ``torch``.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from denoise.backends import BACKENDS
from denoise.noise import NoiseProfile

if TYPE_CHECKING:
    from denoise.pipeline import Model as PipelineModel

DenoiseFn = Callable[[np.ndarray, NoiseProfile], np.ndarray]
# Backends a bundle can run its specialists with (ONNX Runtime formats inside the bundle, or torch).


class MethodSpecError(ValueError):
    """A method spec that names no known method."""


@dataclass(frozen=True)
class Method:
    """A named denoiser: ``method(noisy_planes, profile) -> denoised planes`` (both (4, h, w) float32)."""

    name: str
    denoise: DenoiseFn
    fingerprint: str | None = None  # SHA-256 of the files behind a model method: a rerun may reuse its scores

    def __call__(self, noisy_planes: np.ndarray, profile: NoiseProfile) -> np.ndarray:
        out = np.asarray(self.denoise(noisy_planes, profile), dtype=np.float32)
        if out.shape != noisy_planes.shape:
            raise RuntimeError(f"method {self.name} returned shape {out.shape} for input {noisy_planes.shape}")
        return out


def identity_method() -> Method:
    return Method("noisy", lambda planes, profile: planes.copy())


def bm3d_method() -> Method:
    from .bm3d_vst import bm3d_vst_denoise

    return Method("bm3d", bm3d_vst_denoise)


def file_fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 of a checkpoint or bundle zip, or of a bundle folder's manifest (which holds every file's hash)."""
    path = Path(path)
    target = path / "manifest.json" if path.is_dir() else path
    return hashlib.sha256(target.read_bytes()).hexdigest()


def pipeline_method(name: str, model: PipelineModel, fingerprint: str | None = None) -> Method:
    """A runtime model (checkpoint or bundle) through the same tiled path as ``denoise run``."""
    from denoise.tiling import denoise_planes

    def run(planes: np.ndarray, profile: NoiseProfile) -> np.ndarray:
        runner, _chosen = model.runner_for(profile)
        return denoise_planes(runner, planes, profile.as_vector(), model.tile, model.overlap)

    return Method(name, run, fingerprint)


def model_method(path: str, device: str = "auto") -> Method:
    """A torch checkpoint, tiled."""
    from denoise.pipeline import model_from_checkpoint

    return pipeline_method(f"model:{path}", model_from_checkpoint(path, device), file_fingerprint(path))


def bundle_method(path: str, backend: str = "onnx", device: str = "auto") -> Method:
    """A bundle's specialists, chosen per image by the bundle's selector, with its tile settings."""
    from denoise.pipeline import model_from_bundle

    suffix = "" if backend == "onnx" else f":{backend}"
    return pipeline_method(f"bundle:{path}{suffix}", model_from_bundle(path, backend, device), file_fingerprint(path))


def method_from_spec(spec: str, device: str = "auto") -> Method:
    """Build a method from its command-line spec (see the module docstring)."""
    kind, _, rest = spec.partition(":")
    if spec == "noisy":
        return identity_method()
    if spec == "bm3d":
        return bm3d_method()
    if kind == "model" and rest:
        return model_method(rest, device)
    if kind == "bundle" and rest:
        path, backend = rest, "onnx"
        head, _, tail = rest.rpartition(":")
        if head and tail in BACKENDS:
            path, backend = head, tail
        return bundle_method(path, backend, device)
    raise MethodSpecError(f"unknown method {spec!r}; use noisy, bm3d, model:PATH, bundle:PATH or "
                          f"bundle:PATH:BACKEND (BACKEND one of {', '.join(BACKENDS)})")
