"""RAW file in, denoised file out: noise profile → model (or bundle specialist) → tiles → writer.

This is what ``denoise run`` does for each input; batch processing reports a bad file and goes on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from .cfa import pack_rggb, to_rggb, unpack_rggb
from .errors import ModelOutputError
from .noise import NoiseProfile
from .raw import RawImage
from .tiling import DEFAULT_OVERLAP, DEFAULT_TILE

if TYPE_CHECKING:
    from .writers import PlannedOutput


def resolve_noise(raw: RawImage, noise: str | NoiseProfile = "auto", force: bool = False) -> NoiseProfile:
    """The profile to denoise with: an explicit one, else the file's NoiseProfile, else a blind estimate.

    ``noise`` is a NoiseProfile, ``"auto"`` (metadata, then estimate), ``"estimate"`` (always blind)
    or ``"a,b"`` / 8 comma-separated values. Whatever its source, a profile outside the plausible
    range of :func:`~denoise.noise.check_plausible` is refused (a message naming the file) unless
    ``force``: a model fed absurd noise returns garbage or NaN.
    """
    from .noise import check_plausible

    if isinstance(noise, NoiseProfile):
        profile = noise
    elif noise == "auto" and raw.noise_profile is not None:
        profile = raw.noise_profile
    elif noise in ("auto", "estimate"):
        from .noise_estimate import estimate_noise

        profile = estimate_noise(raw.mosaic, raw.pattern)
    else:
        profile = NoiseProfile.parse(noise)
    if not force:
        check_plausible(profile, where=str(raw.path))
    return profile


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


def denoise_mosaic(mosaic: np.ndarray, pattern: str, model: Model, profile: NoiseProfile, tile: int | None = None,
                   overlap: int | None = None, batch: int | None = None,
                   progress: Callable[[int, int], None] | None = None, where: str = "mosaic") -> tuple[np.ndarray, str]:
    """Denoised (H, W) normalized mosaic in the input's own Bayer phase and size, and the specialist's name.

    ``batch`` (windows per model call) defaults to what the chosen runner prefers; ``where`` names
    the input in errors.
    """
    from .tiling import denoise_planes

    runner, chosen = model.runner_for(profile)
    rggb, canonical = to_rggb(np.asarray(mosaic, dtype=np.float32), pattern)
    out = denoise_planes(runner, pack_rggb(rggb), profile.as_vector(), model.tile if tile is None else tile,
                         model.overlap if overlap is None else overlap, batch, progress)
    if not np.isfinite(out).all():
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        raise ModelOutputError(f"{where}: the model ({chosen}) returned {bad} NaN or infinite values for noise "
                               f"{profile}; nothing was written (check the noise parameters, or try another model)")
    return canonical.to_original(unpack_rggb(out)), chosen


def denoise_raw(raw: RawImage, model: Model, profile: NoiseProfile, tile: int | None = None,
                overlap: int | None = None, batch: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, str]:
    """:func:`denoise_mosaic` of a file read by :func:`denoise.raw.read_raw`."""
    return denoise_mosaic(raw.mosaic, raw.pattern, model, profile, tile, overlap, batch, progress, str(raw.path))


@dataclass
class FileResult:
    input: Path
    output: Path | None = None
    profile: NoiseProfile | None = None
    specialist: str = ""
    error: str = ""
    seconds: float = 0.0
    note: str = ""


def run_files(plan: Sequence[PlannedOutput], model: Model, noise: str = "auto", tile: int | None = None,
              overlap: int | None = None, progress: bool = True, force: bool = False) -> list[FileResult]:
    """Denoise every planned input (:func:`denoise.writers.plan_outputs`); a bad file is recorded with
    its error and the batch goes on.

    Any failure of one file, expected or not, becomes that file's one-line error: a damaged file
    can trip a decoder in ways nobody listed, and it must not cost the rest of the batch.
    """
    import time

    from tqdm import tqdm

    from .raw import read_raw
    from .writers import check_output_path, write_output

    results = []
    for item in tqdm(plan, desc="denoise", unit="file", disable=not progress):
        res = FileResult(item.input, note=item.note)
        t0 = time.perf_counter()
        try:
            target = check_output_path(item.input, item.output)
            raw = read_raw(item.input)
            res.profile = resolve_noise(raw, noise, force)
            mosaic, res.specialist = denoise_raw(raw, model, res.profile, tile, overlap)
            res.output = write_output(raw, mosaic, target, item.fmt)
        except Exception as err:  # noqa: BLE001 - reported per file, see the docstring
            res.error = error_line(item.input, err)
        res.seconds = time.perf_counter() - t0
        results.append(res)
    return results


# Errors whose message is written for the user; any other exception type is a surprise and says so.
_EXPECTED = (ValueError, OSError)


def error_line(path: str | os.PathLike, err: Exception) -> str:
    """``err`` as the one line that reports a file's failure, naming ``path``; a type no message was
    written for says so."""
    lines = str(err).strip().splitlines()
    msg = lines[0] if lines else type(err).__name__
    if not isinstance(err, _EXPECTED):
        msg = f"cannot be processed ({type(err).__name__}: {msg}); please report this file"
    return msg if str(path) in msg else f"{path}: {msg}"
