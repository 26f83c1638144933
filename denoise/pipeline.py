"""RAW file in, denoised file out: noise profile → model (or bundle specialist) → tiles → writer.

This is what ``denoise run`` does for each input; batch processing reports a bad file and goes on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .noise import NoiseProfile
from .raw import RawImage
from .tiling import DEFAULT_OVERLAP, DEFAULT_TILE


def resolve_noise(raw: RawImage, noise: str | NoiseProfile = "auto") -> NoiseProfile:
    """The profile to denoise with: an explicit one, else the file's NoiseProfile, else a blind estimate.

    ``noise`` is a NoiseProfile, ``"auto"`` (metadata, then estimate), ``"estimate"`` (always blind)
    or ``"a,b"`` / 8 comma-separated values.
    """
    if isinstance(noise, NoiseProfile):
        return noise
    if noise == "auto" and raw.noise_profile is not None:
        return raw.noise_profile
    if noise in ("auto", "estimate"):
        from .noise_estimate import estimate_noise

        return estimate_noise(raw.mosaic, raw.pattern)
    return NoiseProfile.parse(noise)


@dataclass
class Model:
    """Something that picks a runner for a noise profile: one checkpoint, or a bundle's selector."""

    describe: str
    runner_for: Callable[[NoiseProfile], tuple[Callable, str]]
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP


def model_from_checkpoint(path: str | os.PathLike, device: str = "auto") -> Model:
    from .backends import TorchRunner
    from .models import load_checkpoint

    runner = TorchRunner(load_checkpoint(path), device, name=Path(path).name)
    return Model(describe=str(path), runner_for=lambda profile: (runner, Path(path).stem))


def model_from_bundle(path: str | os.PathLike | None = None, backend: str = "onnx", device: str = "auto") -> Model:
    """A bundle (directory or .zip); without a path, the default bundle shipped with the package."""
    from .bundle import default_bundle_path, load_bundle

    bundle = load_bundle(path if path is not None else default_bundle_path())
    cache: dict[str, Callable] = {}

    def runner_for(profile: NoiseProfile) -> tuple[Callable, str]:
        spec = bundle.select(profile)
        if spec.name not in cache:
            cache[spec.name] = bundle.runner(spec, backend=backend, device=device)
        return cache[spec.name], spec.name

    io = bundle.manifest.get("io", {})
    return Model(describe=str(bundle.path), runner_for=runner_for, tile=int(io.get("tile", DEFAULT_TILE)),
                 overlap=int(io.get("overlap", DEFAULT_OVERLAP)))


def denoise_raw(raw: RawImage, model: Model, profile: NoiseProfile, tile: int | None = None,
                overlap: int | None = None, batch: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, str]:
    """Denoised normalized mosaic in the file's own phase and size, and the specialist's name.

    ``batch`` (windows per model call) defaults to what the chosen runner prefers.
    """
    from .tiling import denoise_planes

    runner, chosen = model.runner_for(profile)
    planes, canonical = raw.canonical_planes()
    out = denoise_planes(runner, planes, profile.as_vector(), tile or model.tile,
                         model.overlap if overlap is None else overlap, batch, progress)
    return raw.restore_mosaic(out, canonical), chosen


@dataclass
class FileResult:
    input: Path
    output: Path | None = None
    profile: NoiseProfile | None = None
    specialist: str = ""
    error: str = ""
    seconds: float = 0.0


def run_files(inputs: Sequence[Path], out_dir: Path, fmt: str, model: Model, noise: str = "auto",
              tile: int | None = None, overlap: int | None = None, progress: bool = True) -> list[FileResult]:
    """Denoise every input; a bad file is recorded with its error and the batch goes on."""
    import time

    from tqdm import tqdm

    from .errors import InputError, OutputError
    from .noise import NoiseProfileError
    from .raw import read_raw
    from .writers import check_output_path, output_path_for, write_output

    results = []
    bar = tqdm(inputs, desc="denoise", unit="file", disable=not progress)
    for path in bar:
        res = FileResult(Path(path))
        t0 = time.perf_counter()
        try:
            target = check_output_path(path, output_path_for(path, out_dir, fmt))
            raw = read_raw(path)
            res.profile = resolve_noise(raw, noise)
            mosaic, res.specialist = denoise_raw(raw, model, res.profile, tile, overlap)
            res.output = write_output(raw, mosaic, target, fmt)
        except (InputError, OutputError, NoiseProfileError, ValueError, OSError) as err:
            msg = str(err).splitlines()[0] if str(err) else type(err).__name__
            res.error = msg if str(path) in msg else f"{path}: {msg}"
        res.seconds = time.perf_counter() - t0
        results.append(res)
    return results
