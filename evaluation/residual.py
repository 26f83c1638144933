"""A real-noise check without ground truth: what a denoiser removed should look like the noise.

For real RAW files there is no clean image, but the residual ``noisy − denoised`` must still
(1) have zero mean — the denoiser preserves each plane's level; (2) have the variance the noise
profile predicts, ``a·x + b`` at signal x: a ratio well below 1 means noise left in, above 1
means image structure removed; (3) be white — lag-1 autocorrelation near 0 in x and y; a
positive value means edges or texture went into the residual (over-smoothing).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from denoise.noise import PLANES, NoiseProfile
from .methods import Method
from .results import results_header, write_json

RAW_SUFFIXES = (".dng", ".nef", ".nrw", ".cr2", ".cr3", ".arw", ".srw", ".orf", ".rw2", ".raf", ".pef", ".raw",
                ".3fr", ".iiq", ".erf", ".kdc", ".mef", ".mos", ".rwl", ".x3f")


class ResidualCheckError(ValueError):
    """Inputs the residual check cannot run on (a missing path, a folder without RAW files)."""


def _lag1(r: np.ndarray, axis: int) -> float:
    energy = float(np.sum(r * r))
    if energy == 0.0:
        return float("nan")  # nothing was removed: whiteness is undefined
    a = np.moveaxis(r, axis, 0)
    return float(np.sum(a[1:] * a[:-1]) / energy)


def residual_stats(noisy: np.ndarray, denoised: np.ndarray, profile: NoiseProfile, bins: int = 8) -> dict:
    """Residual statistics of (4, h, w) packed planes (see the module docstring).

    ``variance_ratio`` bins pixels by signal (the denoised value, quantile bins over all planes)
    and gives ``var(residual) / mean(a·x + b)`` per bin; ``variance_ratio_overall`` is the same
    over all pixels; ``mean_shift`` is ``(mean(denoised) − mean(noisy)) / |mean(noisy)|`` per plane.
    """
    noisy = noisy.astype(np.float64)
    denoised = denoised.astype(np.float64)
    residual = noisy - denoised
    a = np.asarray(profile.a)[:, None, None]
    b = np.asarray(profile.b)[:, None, None]
    signal = np.maximum(denoised, 0.0)
    predicted = a * signal + b
    centred = residual - residual.mean(axis=(1, 2), keepdims=True)

    noisy_mean = noisy.mean(axis=(1, 2))
    mean_shift = (denoised.mean(axis=(1, 2)) - noisy_mean) / np.maximum(np.abs(noisy_mean), 1e-12)

    flat_signal, flat_res, flat_pred = signal.ravel(), centred.ravel(), predicted.ravel()
    edges = np.unique(np.quantile(flat_signal, np.linspace(0.0, 1.0, bins + 1)))
    which = np.clip(np.searchsorted(edges, flat_signal, side="right") - 1, 0, max(len(edges) - 2, 0))
    per_bin = []
    for k in range(max(len(edges) - 1, 1)):
        sel = which == k
        if sel.any():
            per_bin.append({"signal_low": float(edges[k]), "signal_high": float(edges[min(k + 1, len(edges) - 1)]),
                            "pixels": int(sel.sum()),
                            "ratio": float(flat_res[sel].var() / flat_pred[sel].mean())})
    return {
        "mean_shift": dict(zip(PLANES, mean_shift.tolist())),
        "variance_ratio_overall": float(np.mean(centred ** 2) / np.mean(predicted)),
        "variance_ratio": per_bin,
        "lag1_x": dict(zip(PLANES, [_lag1(centred[p], axis=1) for p in range(4)])),
        "lag1_y": dict(zip(PLANES, [_lag1(centred[p], axis=0) for p in range(4)])),
    }


def find_raw_files(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """RAW files named directly or found (non-recursively) in the given folders, sorted."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files.extend(sorted(p for p in item.iterdir() if p.suffix.lower() in RAW_SUFFIXES and p.is_file()))
        elif item.is_file():
            files.append(item)
        else:
            raise ResidualCheckError(f"{item}: no such file or folder; give RAW files or a folder of them")
    if not files:
        raise ResidualCheckError(f"no RAW files ({', '.join(RAW_SUFFIXES[:6])}, ...) in {', '.join(map(str, inputs))}")
    return files


def run_residual_check(inputs: Sequence[str | os.PathLike], method: Method, out_json: str | os.PathLike,
                       noise: str | NoiseProfile = "auto", bins: int = 8, progress: bool = True,
                       command: str = "") -> dict:
    """Denoise every RAW file with ``method`` and record its residual statistics in ``out_json``.

    ``noise`` is resolved per file as ``denoise run`` does it (:func:`denoise.pipeline.resolve_noise`:
    ``"auto"`` = the file's NoiseProfile, else a blind estimate; ``"estimate"``; ``"a,b"``).
    """
    from tqdm import tqdm

    from denoise.pipeline import resolve_noise
    from denoise.raw import read_raw

    rows = []
    for path in tqdm(find_raw_files(inputs), desc=f"residual {method.name}", unit="file", disable=not progress):
        raw = read_raw(path)
        profile = resolve_noise(raw, noise)
        planes, _ = raw.canonical_planes()
        rows.append({"file": str(path), "noise": profile.to_json(),
                     **residual_stats(planes, method(planes, profile), profile, bins)})
    data = {**results_header("residual", command), "method": method.name, "files": rows}
    write_json(out_json, data)
    return data
